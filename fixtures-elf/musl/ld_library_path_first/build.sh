#!/bin/bash
# musl searches LD_LIBRARY_PATH before DT_RPATH/DT_RUNPATH (ldso-spec.md §7, §8 case 7).
# prog (RPATH=A) and prog_runpath (RUNPATH=A) need libx.so, present in A and in L.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/A/libx.so"
lib "$OUT/L/libx.so"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libx.so
rpath "$OUT/bin/prog" "$OUT/A"
exe "$OUT/bin/prog_runpath"
needs "$OUT/bin/prog_runpath" libx.so
runpath "$OUT/bin/prog_runpath" "$OUT/A"
