#!/bin/bash
# Fatal candidates abort the whole load, trace mode included; the good copy later in the path
# is never reached (ldso-spec.md §4, §8 cases 27, 28, 30). One executable per kind:
# bin/<kind> has RPATH=<kind>:good and needs libx.so; <kind>/libx.so is the bad candidate.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/good/libx.so"
bad() {
    exe "$OUT/bin/$1"
    needs "$OUT/bin/$1" libx.so
    rpath "$OUT/bin/$1" "$OUT/$1:$OUT/good"
    mkdir -p "$OUT/$1"
}
bad ei_data && lib "$OUT/ei_data/libx.so" && patch_bytes "$OUT/ei_data/libx.so" 5 02
bad ei_version && lib "$OUT/ei_version/libx.so" && patch_bytes "$OUT/ei_version/libx.so" 6 02
bad osabi && lib "$OUT/osabi/libx.so" && patch_bytes "$OUT/osabi/libx.so" 7 09
bad sysv_abiversion && lib "$OUT/sysv_abiversion/libx.so" && patch_bytes "$OUT/sysv_abiversion/libx.so" 8 01
bad gnu_abiversion4 && lib "$OUT/gnu_abiversion4/libx.so" && patch_bytes "$OUT/gnu_abiversion4/libx.so" 7 03 04
bad padding && lib "$OUT/padding/libx.so" && patch_bytes "$OUT/padding/libx.so" 12 01
bad e_version && lib "$OUT/e_version/libx.so" && patch_bytes "$OUT/e_version/libx.so" 20 02
bad et_rel && $CC -c -fPIC -o "$OUT/et_rel/libx.so" "$FIXTURES/common/lib.c"
bad text && head -c 200 "$CASE/README.md" > "$OUT/text/libx.so"
bad empty && : > "$OUT/empty/libx.so"
bad directory && mkdir -p "$OUT/directory/libx.so"
bad pie && exe "$OUT/pie/libx.so"
# Accepted, not fatal: OSABI=GNU with ABIVERSION 3 (case 28), and the control.
bad gnu_abiversion3 && lib "$OUT/gnu_abiversion3/libx.so" && patch_bytes "$OUT/gnu_abiversion3/libx.so" 7 03 03
bad control
