#!/bin/bash
# Dependencies are loaded breadth-first: all of the executable's NEEDED entries before any
# grandchild (ldso-spec.md §1.1), so the copy found for the executable's own request wins.
# prog (RPATH=Y) needs [libA, libC]; libA (in Y, RPATH=X) needs libC; X/libC.so and Y/libC.so.
# BFS loads Y/libC.so (prog's request) and libA's request reuses it; depth-first would take X's.
# prog_a (RPATH=Y) needs only libA: libC comes from X.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/X/libC.so"
lib "$OUT/Y/libC.so"
lib "$OUT/Y/libA.so"
needs "$OUT/Y/libA.so" libC.so
rpath "$OUT/Y/libA.so" "$OUT/X"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libA.so libC.so
rpath "$OUT/bin/prog" "$OUT/Y"
exe "$OUT/bin/prog_a"
needs "$OUT/bin/prog_a" libA.so
rpath "$OUT/bin/prog_a" "$OUT/Y"
