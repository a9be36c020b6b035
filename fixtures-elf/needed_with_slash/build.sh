#!/bin/bash
# A DT_NEEDED containing '/' (after DST expansion) is opened as a path, with no search and no
# hwcaps probing (ldso-spec.md §1.3, §2, §8 case 16).
# bin/prog needs <out>/abs/liba.so and $ORIGIN/../sub/libb.so; abs/ also has a
# glibc-hwcaps/x86-64-v2 copy of liba.so that must not be used.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/abs/liba.so"
lib "$OUT/abs/glibc-hwcaps/x86-64-v2/liba.so"
lib "$OUT/sub/libb.so"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" "$OUT/abs/liba.so" '$ORIGIN/../sub/libb.so'
