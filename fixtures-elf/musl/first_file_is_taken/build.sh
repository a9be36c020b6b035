#!/bin/bash
# musl opens the first file that exists along the path and never checks class or machine:
# whatever fails afterwards is an error for that name, not a reason to try the next directory
# (ldso-spec.md §7 path_open, §8 cases 25-27, 29). Each program has RPATH=<bad dir>:G, where G
# holds a good copy.
#   prog_class    W/liby.so is ELFCLASS32                     Exec format error
#   prog_machine  M/liby.so has e_machine EM_AARCH64          taken (mapped: no machine check)
#   prog_text     T/liby.so is a text file                    Exec format error
#   prog_empty    Z/liby.so is empty                          error
#   prog_dir      D/liby.so is a directory                    error (open succeeds)
#   prog_rel      R/liby.so is ET_REL                         error
#   prog_dangling N/liby.so is a dangling symlink (ENOENT)    G's copy
#   prog_loop     L/liby.so is a symlink loop (ELOOP)         the search stops: error
#   prog_notdir   F/liby.so where F is a file (ENOTDIR)       G's copy
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/G/liby.so"
lib32 "$OUT/W/liby.so"
lib "$OUT/M/liby.so"
patch_bytes "$OUT/M/liby.so" 18 b7 00
mkdir -p "$OUT/T" "$OUT/Z" "$OUT/D/liby.so" "$OUT/R" "$OUT/N" "$OUT/L"
echo "not an ELF file" > "$OUT/T/liby.so"
: > "$OUT/Z/liby.so"
cp "$OBJ/lib.o" "$OUT/R/liby.so"
ln -s nowhere.so "$OUT/N/liby.so"
ln -s liby.so "$OUT/L/liby.so"
echo "a file" > "$OUT/F"
for d in class:W machine:M text:T empty:Z dir:D rel:R dangling:N loop:L notdir:F; do
    p=${d%%:*}
    exe "$OUT/bin/prog_$p"
    needs "$OUT/bin/prog_$p" liby.so
    rpath "$OUT/bin/prog_$p" "$OUT/${d#*:}:$OUT/G"
done
