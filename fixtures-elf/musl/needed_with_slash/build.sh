#!/bin/bash
# A DT_NEEDED with a '/' is opened as it is, relative to the working directory, with no token
# expansion: "$ORIGIN/libo.so" is a relative path whose first directory is named "$ORIGIN"
# (ldso-spec.md §7, §8 cases 16, 17).
#   prog needs sub/libs.so and $ORIGIN/libo.so. <OUT>/sub/libs.so and <OUT>/$ORIGIN/libo.so
#   exist, and bin/$ORIGIN/libo.so (where an expansion would look) too.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/sub/libs.so"
lib "$OUT/\$ORIGIN/libo.so"
lib "$OUT/bin/\$ORIGIN/libo.so"
lib "$OUT/bin/libo.so"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" sub/libs.so '$ORIGIN/libo.so'
