#!/bin/bash
# Search order: RPATH > LD_LIBRARY_PATH > RUNPATH (ldso-spec.md §1.4, §8 case 7).
# prog (RPATH=R) -> libX (in R and L: R wins) and libR (in R, RUNPATH=U)
# libR -> libY (in L and U: L wins when LD_LIBRARY_PATH=L) and libZ (only in U).
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/R/libX.so"
lib "$OUT/L/libX.so"
lib "$OUT/L/libY.so"
lib "$OUT/U/libY.so"
lib "$OUT/U/libZ.so"
lib "$OUT/R/libR.so"
needs "$OUT/R/libR.so" libY.so libZ.so
runpath "$OUT/R/libR.so" "$OUT/U"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libX.so libR.so
rpath "$OUT/bin/prog" "$OUT/R"
