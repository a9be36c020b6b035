#!/bin/bash
# A library found in a symlinked directory keeps the unresolved directory as $ORIGIN, and `..`
# after it is resolved by the kernel physically (ldso-spec.md §1.4, §2, §8 cases 11 and 13).
# prog (RPATH=linkdir) -> libB; linkdir -> deep/realdir; libB has RUNPATH=$ORIGIN/../sib and
# needs libT: deep/sib/libT.so (physical) is used, not sib/libT.so (lexical).
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/deep/realdir/libB.so"
needs "$OUT/deep/realdir/libB.so" libT.so
runpath "$OUT/deep/realdir/libB.so" '$ORIGIN/../sib'
lib "$OUT/deep/sib/libT.so"
lib "$OUT/sib/libT.so"
ln -s deep/realdir "$OUT/linkdir"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libB.so
rpath "$OUT/bin/prog" "$OUT/linkdir"
