#!/bin/bash
# Two different files with the same SONAME, requested under their file names, are both loaded
# (ldso-spec.md §1.2, §8 case 21).
. "$(dirname "$0")/../common.sh" "$@"
SONAME=libsame.so lib "$OUT/L/libp.so"
SONAME=libsame.so lib "$OUT/L/libq.so"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libp.so libq.so
rpath "$OUT/bin/prog" "$OUT/L"
