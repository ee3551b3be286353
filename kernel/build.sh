#!/bin/sh
# Build the boxlite guest kernel (an uncompressed, PVH-bootable vmlinux) from
# Debian's linux-source-6.1 and the fragment beside this script.
#
# The result is cached under $BOXLITE_KERNEL_CACHE (default
# /var/cache/boxlite/kernel) in a folder named after the hash of every input,
# so a machine builds it once. Prints the path of the vmlinux on stdout.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${BOXLITE_KERNEL_CACHE:-/var/cache/boxlite/kernel}
src_tar=$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null || true)
if [ -z "$src_tar" ]; then
    echo "kernel/build.sh: /usr/src/linux-source-6.1.tar.xz missing (apt-get install linux-source-6.1)" >&2
    exit 1
fi

src_version=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || stat -c %s "$src_tar")
key=$( (cat "$here/microvm.config" "$here/build.sh"; echo "$src_version") | sha256sum | cut -c1-16)
out="$cache/$key"

if [ -f "$out/vmlinux" ]; then
    echo "$out/vmlinux"
    exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "kernel/build.sh: building guest kernel $key (takes minutes, once per machine)" >&2
tar -C "$work" -xf "$src_tar"
cd "$work/linux-source-6.1"
make -s tinyconfig >&2
./scripts/kconfig/merge_config.sh -m .config "$here/microvm.config" >/dev/null
make -s olddefconfig >&2

# A fragment line that did not survive olddefconfig means a missing
# dependency: fail now rather than boot a kernel without a driver.
missing=0
while IFS= read -r line; do
    case "$line" in ''|'#'*) continue ;; esac
    opt=${line%%=*}
    val=${line#*=}
    if [ "$val" = n ]; then
        if grep -q "^$opt=y" .config; then echo "still set: $opt" >&2; missing=1; fi
    elif ! grep -qx "$line" .config; then
        echo "not set: $line" >&2; missing=1
    fi
done < "$here/microvm.config"
[ "$missing" = 0 ] || { echo "kernel/build.sh: config fragment did not apply" >&2; exit 1; }

make -s -j"$(nproc)" vmlinux >&2
mkdir -p "$out.tmp"
cp vmlinux "$out.tmp/vmlinux"
cp .config "$out.tmp/config"
rm -rf "$out"
mv "$out.tmp" "$out"
echo "$out/vmlinux"
