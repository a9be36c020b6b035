#!/bin/bash
# A relative DT_NEEDED with a slash (lib/libx.so) is opened relative to the process CWD, not the
# requester (ldso-spec.md §1.3, §8 case 17). Copies in w1/lib and w2/lib; w3 has none.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/w1/lib/libx.so"
lib "$OUT/w2/lib/libx.so"
lib "$OUT/bin/lib/libx.so"
mkdir -p "$OUT/w3"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" lib/libx.so
