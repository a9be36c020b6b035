#!/bin/bash
# An empty element in DT_RPATH (a::b) or LD_LIBRARY_PATH means the current working directory
# (ldso-spec.md §1.4, §8 case 8). libx.so exists only in work/.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/work/libx.so"
mkdir -p "$OUT/elsewhere"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libx.so
rpath "$OUT/bin/prog" "/nonexistent-depclose-a::/nonexistent-depclose-b"
exe "$OUT/bin/prog_llp"
needs "$OUT/bin/prog_llp" libx.so
