#!/bin/bash
# Every search directory is probed as dir/glibc-hwcaps/<level>/ first (ldso-spec.md §3), and a
# library found there has that subdirectory as $ORIGIN (§2, §8 case 12).
# prog RPATH=r needs libx.so; r/ and r/glibc-hwcaps/x86-64-v{2,3,4}/ each hold a libx.so with
# RUNPATH=$ORIGIN that needs libsib.so, which exists only in r/.
. "$(dirname "$0")/../common.sh" "$@"
for d in r r/glibc-hwcaps/x86-64-v2 r/glibc-hwcaps/x86-64-v3 r/glibc-hwcaps/x86-64-v4; do
    lib "$OUT/$d/libx.so"
    needs "$OUT/$d/libx.so" libsib.so
    runpath "$OUT/$d/libx.so" '$ORIGIN'
done
lib "$OUT/r/libsib.so"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libx.so
rpath "$OUT/bin/prog" "$OUT/r"
