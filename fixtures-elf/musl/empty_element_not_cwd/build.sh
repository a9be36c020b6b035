#!/bin/bash
# musl skips empty path elements (glibc reads them as the working directory), and a relative
# element is relative to the working directory (ldso-spec.md §7 path_open, §8 cases 8, 9).
#   prog_empty RPATH="::<OUT>/nowhere:" needs libc1.so, present only in the working directory
#   prog_rel   RPATH="rel" needs librel.so, in <OUT>/rel
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/libc1.so"
lib "$OUT/rel/librel.so"
exe "$OUT/bin/prog_empty"
needs "$OUT/bin/prog_empty" libc1.so
rpath "$OUT/bin/prog_empty" "::$OUT/nowhere:"
exe "$OUT/bin/prog_rel"
needs "$OUT/bin/prog_rel" librel.so
rpath "$OUT/bin/prog_rel" rel
