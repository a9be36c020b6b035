#!/bin/bash
# $ORIGIN in LD_LIBRARY_PATH refers to the executable (ldso-spec.md §2 "Where expansion
# happens"), also for a library's lookups. LD_LIBRARY_PATH='$ORIGIN/../llp'.
# bin/prog (RPATH=other/libdir) -> libA (in other/libdir) -> libB (in llp; decoy in other/llp).
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/llp/libB.so"
lib "$OUT/other/llp/libB.so"
lib "$OUT/other/libdir/libA.so"
needs "$OUT/other/libdir/libA.so" libB.so
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libA.so
rpath "$OUT/bin/prog" "$OUT/other/libdir"
