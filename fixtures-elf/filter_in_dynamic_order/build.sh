#!/bin/bash
# DT_NEEDED, DT_FILTER and DT_AUXILIARY are processed in one loop in dynamic-section order
# (elf/dl-deps.c walks l_ld). libf's dynamic section is, in this order: DT_FILTER libq.so
# (found through libf's RUNPATH: copy A), DT_NEEDED $ORIGIN/../B/libq.so (a path: copy B,
# another inode, also soname libq.so), DT_AUXILIARY libnope.so (missing). The filter comes
# first, so both copies are loaded; were DT_NEEDED handled first, B's soname would satisfy
# the filter. In trace mode the missing auxiliary is reported as not found.
. "$(dirname "$0")/../common.sh" "$@"
SONAME=libq.so lib "$OUT/A/libq.so"
SONAME=libq.so lib "$OUT/B/libq.so" -DCOPY_B
lib "$OUT/L/libf.so" -Wl,-F,libq.so -Wl,-f,libnope.so -Wl,-rpath,'$ORIGIN/../A' -Wl,--enable-new-dtags
needs "$OUT/L/libf.so" '$ORIGIN/../B/libq.so'
# patchelf put DT_NEEDED first: move DT_FILTER before it.
python3 - "$OUT/L/libf.so" <<'PY'
import struct, sys
path = sys.argv[1]
b = bytearray(open(path, "rb").read())
phoff, = struct.unpack_from("<Q", b, 32)
phnum, = struct.unpack_from("<H", b, 56)
for i in range(phnum):
    t, _, off, _, _, fs, _, _ = struct.unpack_from("<IIQQQQQQ", b, phoff + 56 * i)
    if t != 2:
        continue
    ents = [struct.unpack_from("<qQ", b, off + 16 * k) for k in range(fs // 16)]
    needed = next(k for k, e in enumerate(ents) if e[0] == 1)
    filt = next(k for k, e in enumerate(ents) if e[0] == 0x7fffffff)
    ents[needed], ents[filt] = ents[filt], ents[needed]
    for k, e in enumerate(ents):
        struct.pack_into("<qQ", b, off + 16 * k, *e)
open(path, "wb").write(b)
PY
readelf -d "$OUT/L/libf.so" | grep -E '\((FILTER|NEEDED|AUXILIARY)\)' | head -1 | grep -q FILTER
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libf.so
rpath "$OUT/bin/prog" "$OUT/L"
