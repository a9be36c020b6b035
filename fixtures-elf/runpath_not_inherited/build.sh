#!/bin/bash
# DT_RUNPATH serves only its own object's DT_NEEDED (ldso-spec.md §1.4, §8 case 2).
# prog (RUNPATH=A) -> libB (in A) -> libC (only in A): libC is not found.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/A/libC.so"
lib "$OUT/A/libB.so"
needs "$OUT/A/libB.so" libC.so
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libB.so
runpath "$OUT/bin/prog" "$OUT/A"
