#!/bin/bash
# The system path: <P>/etc/ld-musl-x86_64.path, P = the PT_INTERP string minus its last two
# components; absent (ENOENT, a dangling link included) means /lib:/usr/local/lib:/usr/lib;
# present but empty or unreadable (a directory) means no system directories at all. Split
# on ':' and '\n', no comments, empty elements skipped (ldso-spec.md §7, §8 case 43).
#
# Chroot roots, each with the loader copied at /lib/ld-musl-x86_64.so.1 and /prog needing
# libx.so, liby.so, libz.so, libw.so:
#   absent/   no path file: /lib/libz.so, /usr/local/lib/libx.so before /usr/lib/libx.so, /usr/lib/liby.so
#   empty/    same files, an empty path file: nothing found
#   custom/   path file "/opt/b\n# comment\n\n/opt/a::/usr/lib\n": libx from /opt/b (also in
#             /opt/a), liby from /usr/lib, libw from the directory "/# comment", libz (in /lib) not found
#   dangling/ path file is a dangling symlink: the default path
#   isdir/    path file is a directory: no system directories
# Prefix (no chroot): m/lib/ld-musl-x86_64.so.1 is a copy of the loader, m/etc/… names sys/;
# prog_prefix has PT_INTERP <OUT>/m/lib/ld-musl-x86_64.so.1 and needs libx.so (only in sys/).
# p/lib/ld-musl-x86_64.so.1 is a symlink to that copy and p/etc/… names sys2/: prog_link,
# whose PT_INTERP is the symlink, reads p/etc (the PT_INTERP string, not its target).
. "$(dirname "$0")/../common.sh" "$@"
for r in absent empty custom dangling isdir; do
    R=$OUT/$r
    musl_root "$R"
    lib "$R/lib/libz.so"
    lib "$R/usr/local/lib/libx.so"
    lib "$R/usr/lib/libx.so"
    lib "$R/usr/lib/liby.so"
    lib "$R/opt/a/libx.so"
    lib "$R/opt/b/libx.so"
    lib "$R/# comment/libw.so"
    exe "$R/prog"
    needs "$R/prog" libx.so liby.so libz.so libw.so
done
: > "$OUT/empty/etc/ld-musl-x86_64.path"
printf '/opt/b\n# comment\n\n/opt/a::/usr/lib\n' > "$OUT/custom/etc/ld-musl-x86_64.path"
ln -s /nowhere/ld-musl-x86_64.path "$OUT/dangling/etc/ld-musl-x86_64.path"
mkdir "$OUT/isdir/etc/ld-musl-x86_64.path"

loader_copy "$OUT/m/lib/ld-musl-x86_64.so.1"
mkdir -p "$OUT/m/etc" "$OUT/p/lib" "$OUT/p/etc"
echo "$OUT/sys" > "$OUT/m/etc/ld-musl-x86_64.path"
ln -s ../../m/lib/ld-musl-x86_64.so.1 "$OUT/p/lib/ld-musl-x86_64.so.1"
echo "$OUT/sys2" > "$OUT/p/etc/ld-musl-x86_64.path"
lib "$OUT/sys/libx.so"
lib "$OUT/sys2/libx.so"
exe "$OUT/bin/prog_prefix"
needs "$OUT/bin/prog_prefix" libx.so
interp "$OUT/bin/prog_prefix" "$OUT/m/lib/ld-musl-x86_64.so.1"
exe "$OUT/bin/prog_link"
needs "$OUT/bin/prog_link" libx.so
interp "$OUT/bin/prog_link" "$OUT/p/lib/ld-musl-x86_64.so.1"
