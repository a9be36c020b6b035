#!/bin/bash
# DT_RPATH is inherited along the first-loader chain (ldso-spec.md §1.4, §8 case 1).
# prog (RPATH=A) -> libB (in A, RPATH=B2) -> libC (in A, no paths) -> libD (only in B2).
# libC is found through prog's RPATH, libD through libB's RPATH inherited by libC.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/B2/libD.so"
lib "$OUT/A/libC.so"
needs "$OUT/A/libC.so" libD.so
lib "$OUT/A/libB.so"
needs "$OUT/A/libB.so" libC.so
rpath "$OUT/A/libB.so" "$OUT/B2"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libB.so
rpath "$OUT/bin/prog" "$OUT/A"
