#!/bin/bash
# Static, static-pie and -nostdlib dynamic executables (ldso-spec.md §6 "Static binaries", §8
# cases 38, 40). static: no PT_DYNAMIC; static-pie: PT_DYNAMIC, no PT_INTERP; nostdlib: PT_INTERP
# and no DT_NEEDED (the interpreter is still mapped); nostdlib_needs: PT_INTERP and a NEEDED of a
# library that does not need libc (the trace omits the interpreter, which is still mapped).
. "$(dirname "$0")/../common.sh" "$@"
exe "$OUT/bin/static" -static
exe "$OUT/bin/static_pie" -static-pie
SRC=$CASE/start.c exe "$OUT/bin/nostdlib" -nostdlib
lib "$OUT/L/libplain.so"
SRC=$CASE/start.c exe "$OUT/bin/nostdlib_needs" -nostdlib
needs "$OUT/bin/nostdlib_needs" libplain.so
rpath "$OUT/bin/nostdlib_needs" "$OUT/L"
