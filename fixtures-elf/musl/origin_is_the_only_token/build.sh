#!/bin/bash
# $ORIGIN and ${ORIGIN} are musl's only tokens; any other '$' disables the object's whole path
# string, while its first loaders' strings still apply (ldso-spec.md §7, §8 case 14).
# musl matches the 7 bytes "$ORIGIN" without looking at what follows: "$ORIGINsub" is the
# origin followed by "sub" (dynlink.c fixup_rpath).
#   prog_origin  RPATH=$ORIGIN/../lib          -> liba (lib)              found
#   prog_brace   RUNPATH=${ORIGIN}/../lib      -> liba                    found
#   prog_lib     RPATH=<OUT>/lib:/x/$LIB       -> liba                    not found (string disabled)
#   prog_plat    RPATH=<OUT>/lib:$PLATFORM     -> liba                    not found
#   prog_suffix  RPATH=$ORIGINsub              -> libsfx (only in binsub) found
#   prog_inherit RPATH=<OUT>/lib -> libm5 (lib, RPATH=/x/$LIB:<OUT>/deep) -> libdeep (in lib and in deep)
#                libm5's string is disabled, prog's applies: lib/libdeep.so
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/lib/liba.so"
lib "$OUT/binsub/libsfx.so"
lib "$OUT/lib/libdeep.so"
lib "$OUT/deep/libdeep.so"
lib "$OUT/lib/libm5.so"
needs "$OUT/lib/libm5.so" libdeep.so
rpath "$OUT/lib/libm5.so" "/x/\$LIB:$OUT/deep"
for p in origin brace lib plat; do
    exe "$OUT/bin/prog_$p"
    needs "$OUT/bin/prog_$p" liba.so
done
rpath "$OUT/bin/prog_origin" '$ORIGIN/../lib'
runpath "$OUT/bin/prog_brace" '${ORIGIN}/../lib'
rpath "$OUT/bin/prog_lib" "$OUT/lib:/x/\$LIB"
rpath "$OUT/bin/prog_plat" "$OUT/lib:\$PLATFORM"
exe "$OUT/bin/prog_suffix"
needs "$OUT/bin/prog_suffix" libsfx.so
rpath "$OUT/bin/prog_suffix" '$ORIGINsub'
exe "$OUT/bin/prog_inherit"
needs "$OUT/bin/prog_inherit" libm5.so
rpath "$OUT/bin/prog_inherit" "$OUT/lib"
