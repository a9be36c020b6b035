#!/bin/bash
# Names that musl answers with the loader itself, before any search: "lib" followed by c.,
# pthread., rt., m., dl., util. or xnet., and the PT_INTERP string. Decoy files of those names
# in the RPATH directory are never opened. libcrypt.so.1 and libmy.so are not reserved
# (ldso-spec.md §7, §8 case 24).
. "$(dirname "$0")/../common.sh" "$@"
for n in libc.so libc.so.6 libm.so.6 libpthread.so.0 librt.so.1 libdl.so.2 libutil.so.1 \
    libxnet.so.1 libc.musl-x86_64.so.1 libcrypt.so.1 libmy.so; do
    lib "$OUT/A/$n"
done
lib "$OUT/A/libuser.so"
needs "$OUT/A/libuser.so" libc.so libm.so.6
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libc.so.6 libm.so.6 libpthread.so.0 librt.so.1 libdl.so.2 libutil.so.1 \
    libxnet.so.1 libc.musl-x86_64.so.1 "$LOADER" libcrypt.so.1 libmy.so libuser.so
rpath "$OUT/bin/prog" "$OUT/A"
