#!/bin/bash
# $ORIGIN of a library is the directory of the path string it was opened by, symlinks not
# resolved; that of a program listed with `ld-musl… --list PATH` is the directory of PATH as
# typed, while a real exec uses /proc/self/exe (ldso-spec.md §7, §8 cases 10, 11).
#   linklib/libA.so -> ../real/libA.so, libA has RUNPATH $ORIGIN/sub and needs libS.so, which
#   is in linklib/sub only. prog (RPATH <OUT>/linklib) needs libA.so: found.
#   a/b/exe -> ../../bin/exe, exe has RPATH $ORIGIN/../lib and needs libL.so (in lib/): listed
#   through the link, not found; executed through the link, found.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/linklib/sub/libS.so"
lib "$OUT/real/libA.so"
needs "$OUT/real/libA.so" libS.so
runpath "$OUT/real/libA.so" '$ORIGIN/sub'
ln -s ../real/libA.so "$OUT/linklib/libA.so"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libA.so
rpath "$OUT/bin/prog" "$OUT/linklib"
lib "$OUT/lib/libL.so"
exe "$OUT/bin/exe"
needs "$OUT/bin/exe" libL.so
rpath "$OUT/bin/exe" '$ORIGIN/../lib'
mkdir -p "$OUT/a/b"
ln -s ../../bin/exe "$OUT/a/b/exe"
