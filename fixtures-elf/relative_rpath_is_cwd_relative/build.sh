#!/bin/bash
# A relative DT_RPATH element is resolved against the process CWD, not the object's directory
# (ldso-spec.md §1.4, §8 case 9). prog (in bin/, RPATH=rel/dir) needs libx.so; copies in
# run/rel/dir and bin/rel/dir.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/run/rel/dir/libx.so"
lib "$OUT/bin/rel/dir/libx.so"
mkdir -p "$OUT/empty"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libx.so
rpath "$OUT/bin/prog" "rel/dir"
