#!/bin/bash
# Path strings are inherited along the first loader (needed_by) chain (ldso-spec.md §8 case 6).
# libA (RPATH=D) and libB both need libC; libC needs libD (only in D). With NEEDED order
# [libA, libB] libC is first loaded by libA and libD is found; with [libB, libA] it is not.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/D/libD.so"
lib "$OUT/L/libC.so"
needs "$OUT/L/libC.so" libD.so
lib "$OUT/L/libA.so"
needs "$OUT/L/libA.so" libC.so
rpath "$OUT/L/libA.so" "$OUT/D"
lib "$OUT/L/libB.so"
needs "$OUT/L/libB.so" libC.so
exe "$OUT/bin/prog_ab"
needs "$OUT/bin/prog_ab" libA.so libB.so
rpath "$OUT/bin/prog_ab" "$OUT/L"
exe "$OUT/bin/prog_ba"
needs "$OUT/bin/prog_ba" libB.so libA.so
rpath "$OUT/bin/prog_ba" "$OUT/L"
