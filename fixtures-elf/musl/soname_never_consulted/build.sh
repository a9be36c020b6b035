#!/bin/bash
# musl matches a request against the names under which earlier *searches* found objects
# (shortname), never against DT_SONAME; a file already loaded is recognized by device and
# inode after it is opened (ldso-spec.md §7, §8 cases 18-21).
#   prog_dup   needs libx.so (SONAME libdup.so.1) then libdup.so.1 (another file): both load
#   prog_link  needs libq.so.1 and libq.so (a symlink to libq.so.1): one object
#   prog_path  needs <OUT>/A/libz.so then libz.so: one object
#   prog_same  needs liba.so and libb.so, two files with the same SONAME: both load
. "$(dirname "$0")/../common.sh" "$@"
SONAME=libdup.so.1 lib "$OUT/A/libx.so"
lib "$OUT/A/libdup.so.1"
lib "$OUT/A/libq.so.1"
ln -s libq.so.1 "$OUT/A/libq.so"
lib "$OUT/A/libz.so"
SONAME=libsame.so lib "$OUT/A/liba.so"
SONAME=libsame.so lib "$OUT/A/libb.so"
exe "$OUT/bin/prog_dup"
needs "$OUT/bin/prog_dup" libx.so libdup.so.1
exe "$OUT/bin/prog_link"
needs "$OUT/bin/prog_link" libq.so.1 libq.so
exe "$OUT/bin/prog_path"
needs "$OUT/bin/prog_path" "$OUT/A/libz.so" libz.so
exe "$OUT/bin/prog_same"
needs "$OUT/bin/prog_same" liba.so libb.so
for p in dup link path same; do rpath "$OUT/bin/prog_$p" "$OUT/A"; done
