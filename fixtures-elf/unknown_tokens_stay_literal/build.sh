#!/bin/bash
# Unknown or malformed tokens ($FOO, ${LIB without }, $ORIGINX) stay literal text, and
# $ORIGIN$ORIGIN expands twice (ldso-spec.md §2, §8 case 14).
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/d/\$FOO/libfoo.so"
lib "$OUT/e/\${LIB/libbrace.so"
lib "$OUT/f/\$ORIGINX/liborx.so"
lib "$OUT/bin$OUT/bin/libdouble.so"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libfoo.so libbrace.so liborx.so libdouble.so
rpath "$OUT/bin/prog" "$OUT/d/\$FOO:$OUT/e/\${LIB:$OUT/f/\$ORIGINX:\$ORIGIN\$ORIGIN"
