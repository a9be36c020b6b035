#!/bin/bash
# A root with its own ld.so.cache written by the real `ldconfig -r`, checked by a real exec
# inside a chroot (ldso-spec.md §1.6, §5, §8 cases 32-35). root/ holds copies of this machine's
# ld.so and libc, and:
#   /opt/lib/libopt.so        reachable only through the cache (/opt/lib is not a default dir)
#   /opt/lib/libfoo.so.1      requested as libfoo.so.01 (numeric-aware cache compare, case 34)
#   /opt/stale/libstale1.so   cached, then deleted: not found (case 33)
#   /opt/stale/libstale2.so   cached, then deleted; /usr/lib/libstale2.so added after ldconfig:
#                             found in the default dirs (case 33)
#   /opt/hw/[glibc-hwcaps/x86-64-v{2,3}/]libhw.so        the cache picks the best level (case 35)
#   /opt/hw/[glibc-hwcaps/x86-64-v{2,3}/]libhwstale.so   the v3 file deleted after ldconfig: no
#                             fallback to the v2 or baseline entries (§1.6)
#   /opt/lib/libnd.so (-z nodefaultlib) needs libsys.so (cached under /usr/lib/x86_64-linux-gnu:
#                             discarded) and libopt2.so (cached under /opt/lib: accepted) (case 32)
. "$(dirname "$0")/../common.sh" "$@"
R=$OUT/root
mkdir -p "$R/lib64" "$R/lib/x86_64-linux-gnu" "$R/usr/lib/x86_64-linux-gnu" "$R/etc" "$R/var/cache/ldconfig"
cp "$(readlink -f /lib64/ld-linux-x86-64.so.2)" "$R/lib64/ld-linux-x86-64.so.2"
cp "$(readlink -f /lib/x86_64-linux-gnu/libc.so.6)" "$R/lib/x86_64-linux-gnu/libc.so.6"
printf '%s\n' '# fixture' /opt/lib /opt/stale /opt/hw > "$R/etc/ld.so.conf"
lib "$R/opt/lib/libopt.so"
lib "$R/opt/lib/libopt2.so"
lib "$R/opt/lib/libfoo.so.1"
lib "$R/opt/stale/libstale1.so"
lib "$R/opt/stale/libstale2.so"
for d in "" glibc-hwcaps/x86-64-v2/ glibc-hwcaps/x86-64-v3/; do
    lib "$R/opt/hw/${d}libhw.so"
    lib "$R/opt/hw/${d}libhwstale.so"
done
lib "$R/usr/lib/x86_64-linux-gnu/libsys.so"
lib "$R/opt/lib/libnd.so" -Wl,-z,nodefaultlib
needs "$R/opt/lib/libnd.so" libsys.so libopt2.so
exe "$R/prog"
needs "$R/prog" libopt.so libfoo.so.01 libstale1.so libstale2.so libhw.so libhwstale.so libnd.so

ldconfig -r "$R"
test -s "$R/etc/ld.so.cache"
rm "$R/opt/stale/libstale1.so" "$R/opt/stale/libstale2.so" "$R/opt/hw/glibc-hwcaps/x86-64-v3/libhwstale.so"
lib "$R/usr/lib/libstale2.so"
