#!/bin/bash
# An open error other than ENOENT/EACCES (ELOOP; ENOTDIR before 2.39) abandons the rest of that
# directory list, but the next search stage still runs; a dangling symlink is just skipped
# (ldso-spec.md §1.5, §8 case 29).
# prog RPATH=D1:D2 needs libx.so (D1: self-loop, D2: good) and liby.so (D1: dangling, D2: good).
# prog_notdir RPATH=afile:D2 (afile is a regular file) needs libw.so (D2).
# llp/libx.so is found when LD_LIBRARY_PATH=llp.
. "$(dirname "$0")/../common.sh" "$@"
mkdir -p "$OUT/D1"
ln -s libx.so "$OUT/D1/libx.so"
ln -s nowhere.so "$OUT/D1/liby.so"
lib "$OUT/D2/libx.so"
lib "$OUT/D2/liby.so"
lib "$OUT/D2/libw.so"
lib "$OUT/llp/libx.so"
echo "not a directory" > "$OUT/afile"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libx.so liby.so
rpath "$OUT/bin/prog" "$OUT/D1:$OUT/D2"
exe "$OUT/bin/prog_notdir"
needs "$OUT/bin/prog_notdir" libw.so
rpath "$OUT/bin/prog_notdir" "$OUT/afile:$OUT/D2"
# prog_notdir2 RPATH=D3:D2, where D3 exists but D3/glibc-hwcaps/x86-64-v2 is a regular file, so
# probing D3/glibc-hwcaps/x86-64-v2/libw.so fails with ENOTDIR.
mkdir -p "$OUT/D3/glibc-hwcaps"
echo "not a directory" > "$OUT/D3/glibc-hwcaps/x86-64-v2"
exe "$OUT/bin/prog_notdir2"
needs "$OUT/bin/prog_notdir2" libw.so
rpath "$OUT/bin/prog_notdir2" "$OUT/D3:$OUT/D2"
