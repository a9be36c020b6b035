#!/bin/bash
# musl keeps one path string per object (DT_RUNPATH if present, else DT_RPATH) and searches
# the strings of the requester and of every first loader up to the executable, whatever the
# tag (ldso-spec.md §7, §8 cases 1-4).
#   prog_rpath   (RPATH=A)   -> libB (A) -> libC (only in A)                     case 1
#   prog_runpath (RUNPATH=A) -> libB (A) -> libC (only in A)                     case 2
#   prog_kill    (RPATH=A:B) -> libB2 (B, RUNPATH=/nowhere) -> libC2 (only A)    case 3
#   prog_part    (RPATH=A)   -> libB4 (A, RUNPATH=C) -> libC4 (C) -> libD4 (only A), libE4 (only C)  case 4
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/A/libC.so"
lib "$OUT/A/libB.so"
needs "$OUT/A/libB.so" libC.so
exe "$OUT/bin/prog_rpath"
needs "$OUT/bin/prog_rpath" libB.so
rpath "$OUT/bin/prog_rpath" "$OUT/A"
exe "$OUT/bin/prog_runpath"
needs "$OUT/bin/prog_runpath" libB.so
runpath "$OUT/bin/prog_runpath" "$OUT/A"

lib "$OUT/A/libC2.so"
lib "$OUT/B/libB2.so"
needs "$OUT/B/libB2.so" libC2.so
runpath "$OUT/B/libB2.so" /nowhere
exe "$OUT/bin/prog_kill"
needs "$OUT/bin/prog_kill" libB2.so
rpath "$OUT/bin/prog_kill" "$OUT/A:$OUT/B"

lib "$OUT/A/libD4.so"
lib "$OUT/C/libE4.so"
lib "$OUT/C/libC4.so"
needs "$OUT/C/libC4.so" libD4.so libE4.so
lib "$OUT/A/libB4.so"
needs "$OUT/A/libB4.so" libC4.so
runpath "$OUT/A/libB4.so" "$OUT/C"
exe "$OUT/bin/prog_part"
needs "$OUT/bin/prog_part" libB4.so
rpath "$OUT/bin/prog_part" "$OUT/A"
