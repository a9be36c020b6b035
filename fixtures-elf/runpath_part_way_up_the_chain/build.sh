#!/bin/bash
# An ancestor with DT_RUNPATH contributes nothing, but the RPATH walk continues past it
# (ldso-spec.md §1.4, §8 case 4). prog (RPATH=A) -> libB (in A, RUNPATH=C) -> libC (in C, no
# paths) -> libD (only in A: found via prog's RPATH) and libE (only in C: not found).
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/A/libD.so"
lib "$OUT/C/libE.so"
lib "$OUT/C/libC.so"
needs "$OUT/C/libC.so" libD.so libE.so
lib "$OUT/A/libB.so"
needs "$OUT/A/libB.so" libC.so
runpath "$OUT/A/libB.so" "$OUT/C"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libB.so
rpath "$OUT/bin/prog" "$OUT/A"
