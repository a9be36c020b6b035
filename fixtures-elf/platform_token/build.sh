#!/bin/bash
# $PLATFORM expands to GLRO(dl_platform): x86_64 on AMD, haswell or xeon_phi on some Intel CPUs
# (ldso-spec.md §2, §8 case 15); tokens in DT_NEEDED expand before the slash test.
# prog RPATH=p/$PLATFORM and NEEDs libx.so and lib$PLATFORM.so.
. "$(dirname "$0")/../common.sh" "$@"
for p in x86_64 haswell xeon_phi; do
    lib "$OUT/p/$p/libx.so"
    lib "$OUT/p/$p/lib$p.so"
done
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libx.so 'lib$PLATFORM.so'
rpath "$OUT/bin/prog" "$OUT/p/\$PLATFORM"
