#!/bin/bash
# A request equal to a loaded object's DT_SONAME reuses it without opening the file of that name
# (ldso-spec.md §1.2, §8 case 20). L/libx.so has SONAME libdup.so.1; L/libdup.so.1 also exists.
# prog needs [libx.so, libdup.so.1]: only libx.so is loaded.
. "$(dirname "$0")/../common.sh" "$@"
SONAME=libdup.so.1 lib "$OUT/L/libx.so"
lib "$OUT/L/libdup.so.1"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libx.so libdup.so.1
rpath "$OUT/bin/prog" "$OUT/L"
