#!/bin/bash
# DF_1_NODEFLIB on the requester skips the default directories and cache results under them;
# LD_LIBRARY_PATH still works; only the requester's flag matters (ldso-spec.md §1.4, §1.6, §8
# case 32). prog (RPATH=L) -> libnd (-z nodefaultlib) and libplain; both need libm.so.6, which
# exists only in the system directories (and the host cache); llp/ holds a stub libm.so.6.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/L/libnd.so" -Wl,-z,nodefaultlib
needs "$OUT/L/libnd.so" libm.so.6
lib "$OUT/L/libplain.so"
needs "$OUT/L/libplain.so" libm.so.6
lib "$OUT/llp/libm.so.6"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libnd.so libplain.so
rpath "$OUT/bin/prog" "$OUT/L"
readelf -dW "$OUT/L/libnd.so" | grep -q NODEFLIB
