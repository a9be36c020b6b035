#!/bin/bash
# A requester with DT_RUNPATH skips the RPATH stage entirely, the executable's RPATH included
# (ldso-spec.md §1.4, §8 case 3). prog (RPATH=A:B) -> libB (in B, RUNPATH=/nonexistent) -> libC
# (only in A): not found. libB2 (in B, no paths) -> libC2 (only in A): found (control).
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/A/libC.so"
lib "$OUT/A/libC2.so"
lib "$OUT/B/libB.so"
needs "$OUT/B/libB.so" libC.so
runpath "$OUT/B/libB.so" /nonexistent-depclose-fixture
lib "$OUT/B/libB2.so"
needs "$OUT/B/libB2.so" libC2.so
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libB.so libB2.so
rpath "$OUT/bin/prog" "$OUT/A:$OUT/B"
