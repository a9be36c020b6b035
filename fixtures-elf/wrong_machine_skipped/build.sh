#!/bin/bash
# A candidate with the wrong e_machine is skipped silently (ldso-spec.md §4 row 10, §8 case 26).
# prog RPATH=A:B; A/libx.so has e_machine patched to EM_AARCH64, B/libx.so is good;
# liby.so exists only as a wrong-machine file in A.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/A/libx.so"
patch_bytes "$OUT/A/libx.so" 18 b7 00
lib "$OUT/B/libx.so"
lib "$OUT/A/liby.so"
patch_bytes "$OUT/A/liby.so" 18 b7 00
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libx.so liby.so
rpath "$OUT/bin/prog" "$OUT/A:$OUT/B"
