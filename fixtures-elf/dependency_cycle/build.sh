#!/bin/bash
# A cycle libA <-> libB: each is loaded once (ldso-spec.md §8 case 22).
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/L/libA.so"
needs "$OUT/L/libA.so" libB.so
lib "$OUT/L/libB.so"
needs "$OUT/L/libB.so" libA.so
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libA.so
rpath "$OUT/bin/prog" "$OUT/L"
