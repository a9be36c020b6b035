#!/bin/bash
# libfoo.so -> libfoo.so.1 -> libfoo.so.1.2.3 with all three names NEEDed: one object
# (ldso-spec.md §1.2, §8 case 19).
. "$(dirname "$0")/../common.sh" "$@"
SONAME=libfoo.so.1 lib "$OUT/L/libfoo.so.1.2.3"
ln -s libfoo.so.1.2.3 "$OUT/L/libfoo.so.1"
ln -s libfoo.so.1 "$OUT/L/libfoo.so"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libfoo.so libfoo.so.1 libfoo.so.1.2.3
rpath "$OUT/bin/prog" "$OUT/L"
