#!/bin/bash
# The same library requested by absolute path and by name, in either order, or through a
# non-normalized path, is one object (ldso-spec.md §1.2, §8 case 18).
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/L/libx.so"
exe "$OUT/bin/path_first"
needs "$OUT/bin/path_first" "$OUT/L/libx.so" libx.so
exe "$OUT/bin/name_first"
needs "$OUT/bin/name_first" libx.so "$OUT/L/libx.so"
exe "$OUT/bin/dotted"
needs "$OUT/bin/dotted" libx.so "$OUT/L/./libx.so" "$OUT/L/../L/libx.so"
for e in path_first name_first dotted; do
    rpath "$OUT/bin/$e" "$OUT/L"
done
