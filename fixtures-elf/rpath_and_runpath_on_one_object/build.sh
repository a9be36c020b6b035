#!/bin/bash
# An object with both DT_RPATH and DT_RUNPATH: the RPATH is discarded, for its own lookups and
# for its descendants' chains (ldso-spec.md §1.4, §8 case 5). Both tags are made with
# common.sh both_tags (ldso-spec.md §9).
#   prog (RPATH=X, RUNPATH=Y) -> libP (in X and Y: Y's copy) -> libQ (only in X: not found)
#   prog2 (RPATH=A) -> libL (in A; RPATH=X2, RUNPATH=Y2) -> libM (in X2 and Y2: Y2's copy)
#         libM -> libN (only in X2: not found) and libN2 (only in A: found via prog2's RPATH)
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/X/libQ.so"
for d in X Y; do
    lib "$OUT/$d/libP.so"
    needs "$OUT/$d/libP.so" libQ.so
done
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libP.so
both_tags "$OUT/bin/prog" "$OUT/X" "$OUT/Y"

lib "$OUT/X2/libN.so"
lib "$OUT/A/libN2.so"
for d in X2 Y2; do
    lib "$OUT/$d/libM.so"
    needs "$OUT/$d/libM.so" libN.so libN2.so
done
lib "$OUT/A/libL.so"
needs "$OUT/A/libL.so" libM.so
both_tags "$OUT/A/libL.so" "$OUT/X2" "$OUT/Y2"
exe "$OUT/bin/prog2"
needs "$OUT/bin/prog2" libL.so
rpath "$OUT/bin/prog2" "$OUT/A"
