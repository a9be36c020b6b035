#!/bin/bash
# The executable's $ORIGIN: canonical on a real exec (/proc/self/exe), the path as typed under
# an explicit `ld.so prog` in glibc 2.36 (ldso-spec.md §2, §8 case 10).
# bin/prog has RPATH=$ORIGIN/../lib and needs libx.so; a/b/prog -> ../../bin/prog.
# lib/libx.so is the canonical answer; a/lib/libx.so is what the as-typed origin a/b gives.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/lib/libx.so"
lib "$OUT/a/lib/libx.so"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libx.so
rpath "$OUT/bin/prog" '$ORIGIN/../lib'
mkdir -p "$OUT/a/b"
ln -s ../../bin/prog "$OUT/a/b/prog"
