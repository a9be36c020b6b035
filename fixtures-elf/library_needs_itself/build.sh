#!/bin/bash
# A library that needs itself matches itself (by SONAME, or by its request name when it has no
# SONAME), ldso-spec.md §1.2.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/L/libself.so"
needs "$OUT/L/libself.so" libself.so
SONAME= lib "$OUT/L/libnosoname.so"
needs "$OUT/L/libnosoname.so" libnosoname.so
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libself.so libnosoname.so
rpath "$OUT/bin/prog" "$OUT/L"
