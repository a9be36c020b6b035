#!/bin/bash
# Missing libraries: trace mode prints "name => not found" once per request and continues
# (ldso-spec.md §6, §8 case 31). prog needs libnope.so and libm1..3, which all need libgone.so.
. "$(dirname "$0")/../common.sh" "$@"
for i in 1 2 3; do
    lib "$OUT/L/libm$i.so"
    needs "$OUT/L/libm$i.so" libgone.so
done
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libnope.so libm1.so libm2.so libm3.so
rpath "$OUT/bin/prog" "$OUT/L"
