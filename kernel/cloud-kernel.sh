#!/bin/sh
# Candidate (a) for the guest kernel: Debian's cloud kernel, unpacked from its
# package into an ELF vmlinux that QEMU boots through its PVH note. Kept for
# comparison (bench/kernel-compare.sh); the runtime uses kernel/build.sh's.
#
# The bzImage payload is LZ4; the ELF is that payload, found at
# (setup_sects + 1) * 512 + payload_offset. Virtio drivers are modules in this
# kernel and it does not take virtio-mmio devices from the command line, so a
# box would need ACPI and an initramfs with modules. Prints the vmlinux path.
set -eu

cache=${BOXLITE_KERNEL_CACHE:-/var/cache/boxlite/kernel}
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[^ ]*\)/\1/p' | head -n1)
[ -n "$pkg" ] || { echo "cloud-kernel.sh: linux-image-cloud-amd64 not known to apt (apt-get update?)" >&2; exit 1; }
out="$cache/cloud-$pkg"
if [ -f "$out/vmlinux" ]; then
    echo "$out/vmlinux"
    exit 0
fi
command -v lz4 >/dev/null || { echo "cloud-kernel.sh: needs lz4 (apt-get install lz4)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download "$pkg" >/dev/null 2>&1)
dpkg-deb -x "$work"/*.deb "$work/x"
bz=$(ls "$work"/x/boot/vmlinuz-*)
python3 - "$bz" "$work/payload.lz4" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
setup_sects = data[0x1f1] or 4
offset, length = struct.unpack_from('<II', data, 0x248)
start = (setup_sects + 1) * 512 + offset
open(sys.argv[2], 'wb').write(data[start:start + length])
PY
mkdir -p "$out.tmp"
lz4 -dc "$work/payload.lz4" > "$out.tmp/vmlinux" 2>/dev/null || true
head -c 4 "$out.tmp/vmlinux" | grep -q ELF || { echo "cloud-kernel.sh: payload is not an ELF" >&2; exit 1; }
cp "$work"/x/boot/config-* "$out.tmp/config"
rm -rf "$out"
mv "$out.tmp" "$out"
echo "$out/vmlinux"
