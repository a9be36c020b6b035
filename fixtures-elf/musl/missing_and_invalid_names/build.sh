#!/bin/bash
# Names nothing satisfies: musl's --list reports "Error loading shared library N: … (needed
# by X)" on stderr for each request, keeps listing, and exits 127 (ldso-spec.md §7 "ldd
# output", §8 cases 23, 31). An empty DT_NEEDED is EINVAL.
#   prog      needs libfound.so, libnothere.so, libthree.so; libfound.so and libtwo.so also
#             need libthree.so (missing for three requesters)
#   prog_empty needs "" and libfound.so
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/A/libtwo.so"
needs "$OUT/A/libtwo.so" libthree.so
lib "$OUT/A/libfound.so"
needs "$OUT/A/libfound.so" libthree.so libtwo.so
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libfound.so libnothere.so libthree.so
rpath "$OUT/bin/prog" "$OUT/A"
exe "$OUT/bin/prog_empty"
needs "$OUT/bin/prog_empty" libfound.so EMPTYNAME
rpath "$OUT/bin/prog_empty" "$OUT/A"
# Turn the DT_NEEDED string "EMPTYNAME" into "": its first byte becomes NUL.
off=$(grep -boa 'EMPTYNAME' "$OUT/bin/prog_empty" | head -1 | cut -d: -f1)
patch_bytes "$OUT/bin/prog_empty" "$off" 00
