#!/bin/bash
# A library's $ORIGIN is the directory of the path it was opened under; symlinks are not
# resolved (ldso-spec.md §2, §8 case 11).
# prog (RPATH=linklib) -> libA; linklib/libA.so -> ../real/libA.so; libA has RUNPATH=$ORIGIN/sub
# and needs libS: linklib/sub/libS.so is used, not real/sub/libS.so.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/real/libA.so"
needs "$OUT/real/libA.so" libS.so
runpath "$OUT/real/libA.so" '$ORIGIN/sub'
lib "$OUT/linklib/sub/libS.so"
lib "$OUT/real/sub/libS.so"
ln -s ../real/libA.so "$OUT/linklib/libA.so"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libA.so
rpath "$OUT/bin/prog" "$OUT/linklib"
