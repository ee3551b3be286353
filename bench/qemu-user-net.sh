#!/bin/sh
# The benchmark's peer network: runs QEMU with its own user networking
# (`-netdev user`, libslirp inside QEMU, no filter and no stream hop) in place
# of the box's `-netdev stream` to the monitor. bench-net names this script
# as BOXLITE_QEMU for the peer's boxes only, so the monitor itself has no
# benchmark mode; the monitor's network then sits idle.
#
# The addresses are the box subnet's: gateway and DNS .1 (QEMU answers ARP
# for its DNS address), host alias .254 (QEMU's host address reaches the
# host's loopback, as the monitor's alias does).
real=${BENCH_REAL_QEMU:-qemu-system-x86_64}
prev=
for arg in "$@"; do
    shift
    if [ "$prev" = -netdev ]; then
        case $arg in
        stream,*)
            arg="user,id=net0,net=192.168.127.0/24,host=192.168.127.254,dns=192.168.127.1,ipv6=off"
            ;;
        esac
    fi
    set -- "$@" "$arg"
    prev=$arg
done
exec "$real" "$@"
