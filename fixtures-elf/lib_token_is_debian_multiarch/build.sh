#!/bin/bash
# $LIB and ${LIB} expand to DL_DST_LIB, lib/x86_64-linux-gnu on Debian (ldso-spec.md §2, §8
# case 15). prog RPATH=a/$LIB:b/${LIB}; libx in a/lib/x86_64-linux-gnu, liby in
# b/lib/x86_64-linux-gnu; decoys in a/lib64 and a/lib.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/a/lib/x86_64-linux-gnu/libx.so"
lib "$OUT/a/lib64/libx.so"
lib "$OUT/a/lib/libx.so"
lib "$OUT/b/lib/x86_64-linux-gnu/liby.so"
lib "$OUT/b/lib64/liby.so"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libx.so liby.so
rpath "$OUT/bin/prog" "$OUT/a/\$LIB:$OUT/b/\${LIB}"
