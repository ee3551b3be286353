#!/bin/sh
# The benchmark's second transport: runs the box's QEMU with a virtiofs
# device next to its 9p volume, so both are measured in the same guest.
# virtiofs needs guest RAM that virtiofsd can map, hence the shared memfd
# backend (the one thing a copy-on-write template clone cannot have).
# bench-volumes.sh names this script as BOXLITE_QEMU and starts virtiofsd on
# BENCH_VFS_SOCKET first; the mount tag is BENCH_VFS_TAG.
real=${BENCH_REAL_QEMU:-qemu-system-x86_64}
: "${BENCH_VFS_SOCKET:?bench-volumes.sh sets it}" "${BENCH_VFS_TAG:?}"
mem=
prev=
for arg in "$@"; do
    [ "$prev" = -m ] && mem=$arg
    prev=$arg
done
# virtiofsd serves only modern virtio, and microvm's virtio-mmio defaults to
# legacy: every device of the box goes modern, the 9p one and the disk too.
exec "$real" "$@" \
    -global virtio-mmio.force-legacy=false \
    -object "memory-backend-memfd,id=benchmem,size=${mem:?no -m}M,share=on" \
    -machine memory-backend=benchmem \
    -chardev "socket,id=benchvfs,path=$BENCH_VFS_SOCKET" \
    -device "vhost-user-fs-device,chardev=benchvfs,tag=$BENCH_VFS_TAG"
