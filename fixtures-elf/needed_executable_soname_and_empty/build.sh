#!/bin/bash
# A DT_NEEDED equal to the executable's DT_SONAME, or empty, resolves to the executable itself
# (ldso-spec.md §1.2 "Executable", §8 case 23).
# prog (SONAME myprog.so) -> libA -> myprog.so; prog2 -> libB -> "" (empty NEEDED).
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/L/libA.so"
needs "$OUT/L/libA.so" myprog.so
lib "$OUT/L/libB.so"
needs "$OUT/L/libB.so" ""
lib "$OUT/L/myprog.so"
exe "$OUT/bin/prog" -Wl,-soname,myprog.so
needs "$OUT/bin/prog" libA.so
rpath "$OUT/bin/prog" "$OUT/L"
exe "$OUT/bin/prog2"
needs "$OUT/bin/prog2" libB.so
rpath "$OUT/bin/prog2" "$OUT/L"
readelf -dW "$OUT/L/libB.so" | grep -qF 'Shared library: []'
