#!/bin/sh
# The benchmark's peer network: runs QEMU with its own user networking
# (`-netdev user`, libslirp inside QEMU, no filter and no stream hop) in place
# of the box's `-netdev stream` to the monitor. bench-net names this script
# as BOXLITE_QEMU for the peer's boxes only, so the monitor itself has no
# benchmark mode; the monitor's network then sits idle.
#
# BENCH_USER_NETDEV is the replacement netdev, which bench-net builds from the
# box subnet's one definition (protocol/bl_net_topology.h).
real=${BENCH_REAL_QEMU:-qemu-system-x86_64}
: "${BENCH_USER_NETDEV:?bench-net sets it}"
prev=
for arg in "$@"; do
    shift
    if [ "$prev" = -netdev ]; then
        case $arg in
        stream,*)
            arg=$BENCH_USER_NETDEV
            ;;
        esac
    fi
    set -- "$@" "$arg"
    prev=$arg
done
exec "$real" "$@"
