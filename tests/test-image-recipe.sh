#!/usr/bin/env bash
# The default image's cache, in a scratch store: the recipe's hash names the
# image, an unchanged recipe builds nothing and leaves `current` alone, a
# changed one gets a new hash, and `current` moves from one image to another
# without a moment where it names none. The images here are stand-in
# directories already in place, so nothing is built (no root, no network).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/boxlite-image-recipe.XXXXXX")
trap 'kill "${reader:-}" 2>/dev/null || true; rm -rf "$scratch"' EXIT
fail() { echo "not ok: $*" >&2; exit 1; }

# Two recipes: the repository's, and one with a package more.
mkdir -p "$scratch/a" "$scratch/b"
cp "$repo/scripts/build-default-image.sh" "$repo/scripts/default-image.packages" "$scratch/a/"
cp "$repo/scripts/build-default-image.sh" "$repo/scripts/default-image.packages" "$scratch/b/"
echo jq >>"$scratch/b/default-image.packages"
key_a=$(bash "$scratch/a/build-default-image.sh" --key)
key_b=$(bash "$scratch/b/build-default-image.sh" --key)
[ "$key_a" = "$(bash "$repo/scripts/build-default-image.sh" --key)" ] || fail "a copy of the recipe hashes differently"
[ "$key_a" != "$key_b" ] || fail "adding a package did not change the hash"
echo "ok: recipe hashes $key_a and $key_b"

# A machine with an older image: its directory and `current` pointing at it.
store=$scratch/store
for k in old "$key_a" "$key_b"; do
    mkdir -p "$store/$k/rootfs"
    echo "$k" >"$store/$k/rootfs/marker"
done
ln -s old/rootfs "$store/current"

out=$(BOXLITE_IMAGE_DIR=$store bash "$scratch/a/build-default-image.sh" 2>/dev/null)
[ "$out" = "$store/current" ] || fail "printed '$out', not the current link"
[ "$(readlink "$store/current")" = "$key_a/rootfs" ] || fail "current was not switched to the recipe's image"
[ "$(cat "$store/current/marker")" = "$key_a" ] || fail "current does not reach the image"
[ -f "$store/old/rootfs/marker" ] || fail "the image current pointed at before was touched"
echo "ok: a new recipe's image replaces the old one as current, which is kept"

before=$(stat -c %i "$store/current")   # the link itself
BOXLITE_IMAGE_DIR=$store bash "$scratch/a/build-default-image.sh" >/dev/null 2>&1
[ "$(stat -c %i "$store/current")" = "$before" ] || fail "an unchanged recipe rewrote current"
echo "ok: an unchanged recipe leaves current alone"

# A reader opening the image through `current` while it moves back and forth.
(
    while :; do
        cat "$store/current/marker" >/dev/null 2>&1 || echo missing >>"$scratch/misses"
    done
) &
reader=$!
for _ in $(seq 1 20); do
    BOXLITE_IMAGE_DIR=$store bash "$scratch/b/build-default-image.sh" >/dev/null 2>&1
    BOXLITE_IMAGE_DIR=$store bash "$scratch/a/build-default-image.sh" >/dev/null 2>&1
done
kill "$reader"
wait "$reader" 2>/dev/null || true
[ ! -s "$scratch/misses" ] || fail "a reader found no image $(wc -l <"$scratch/misses") times"
[ "$(readlink "$store/current")" = "$key_a/rootfs" ] || fail "current ended elsewhere"
leftovers=$(find "$store" -maxdepth 1 -name '.current.new.*' | wc -l)
[ "$leftovers" = 0 ] || fail "$leftovers temporary links left behind"
echo "ok: 40 switches, a reader always found an image"
