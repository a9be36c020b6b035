#!/bin/bash
# An object with both DT_RPATH=X and DT_RUNPATH=Y: musl uses Y only, and Y is inherited
# (ldso-spec.md §7, §8 case 5).
#   prog (RPATH=E) -> libP (E; RPATH=X, RUNPATH=Y) -> libq (in X and in Y) -> libr (only Y), libs (only X)
#   prog_both (RPATH=X, RUNPATH=Y) -> libq2 (in X and in Y)
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/Y/libr.so"
lib "$OUT/X/libs.so"
for d in X Y; do
    lib "$OUT/$d/libq.so"
    needs "$OUT/$d/libq.so" libr.so libs.so
    lib "$OUT/$d/libq2.so"
done
lib "$OUT/E/libP.so"
needs "$OUT/E/libP.so" libq.so
both_tags "$OUT/E/libP.so" "$OUT/X" "$OUT/Y"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libP.so
rpath "$OUT/bin/prog" "$OUT/E"
exe "$OUT/bin/prog_both"
needs "$OUT/bin/prog_both" libq2.so
both_tags "$OUT/bin/prog_both" "$OUT/X" "$OUT/Y"
