#!/bin/bash
# glibc 2.36 still probes the legacy hwcap subdirectories (tls/, x86_64/, …) after the
# glibc-hwcaps ones and before the directory itself (ldso-spec.md §3 "Legacy"; removed in 2.37).
# prog RPATH=r needs: libx (r/tls, r/x86_64, r), liby (r/x86_64, r), libz (r/tls/x86_64 and
# r/glibc-hwcaps/x86-64-v2), libw (r/x86_64/x86_64, r/tls).
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/r/tls/libx.so"
lib "$OUT/r/x86_64/libx.so"
lib "$OUT/r/libx.so"
lib "$OUT/r/x86_64/liby.so"
lib "$OUT/r/liby.so"
lib "$OUT/r/tls/x86_64/libz.so"
lib "$OUT/r/glibc-hwcaps/x86-64-v2/libz.so"
lib "$OUT/r/x86_64/x86_64/libw.so"
lib "$OUT/r/tls/libw.so"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libx.so liby.so libz.so libw.so
rpath "$OUT/bin/prog" "$OUT/r"
