# Helpers for fixtures-elf/symbols/<case>/build.sh (symbol versions and binding, checked
# against ld.so with LD_TRACE_LOADED_OBJECTS=1 LD_WARN=yes LD_BIND_NOW=yes, as ldd -r).
# Usage, first line of a build.sh:  . "$(dirname "$0")/../common.sh" "$@"
# Sets OUT (the canonical output directory) and CASE; sources are written by the case.
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
mkdir -p "$1"
OUT=$(cd "$1" && pwd -P)
CASE=$(cd "$(dirname "$0")" && pwd -P)
CC=${CC:-gcc}
cd "$OUT"

# shlib OUTPUT SONAME SOURCE [FLAGS...]: a shared library without libc (-nostdlib), so that
# it has no DT_VERSYM unless a version script (FLAGS) gives it one.
shlib() {
    local out=$1 soname=$2 src=$3
    shift 3
    mkdir -p "$(dirname "$out")"
    $CC -shared -fPIC -nostdlib -Wl,-soname,"$soname" -o "$out" "$src" "$@"
}

# weaken FILE VERSION: set VER_FLG_WEAK on FILE's requirement of VERSION (GNU ld never
# marks a requirement weak itself; other linkers and old binaries do).
weaken() {
    python3 - "$1" "$2" <<'PY'
import struct, sys
path, want = sys.argv[1], sys.argv[2].encode()
b = bytearray(open(path, "rb").read())
assert b[:4] == b"\x7fELF" and b[4] == 2 and b[5] == 1, "ELF64 little-endian only"
phoff, = struct.unpack_from("<Q", b, 32)
phnum, = struct.unpack_from("<H", b, 56)
ph = [struct.unpack_from("<IIQQQQQQ", b, phoff + 56 * i) for i in range(phnum)]
def off(va):
    for t, _, o, v, _, fs, _, _ in ph:
        if t == 1 and v <= va < v + fs:
            return o + va - v
    raise SystemExit("address not in a PT_LOAD")
dyn = next(p for p in ph if p[0] == 2)
tags = {}
for i in range(dyn[5] // 16):
    t, v = struct.unpack_from("<qQ", b, dyn[2] + 16 * i)
    tags.setdefault(t, v)
strtab, vn = off(tags[5]), off(tags[0x6ffffffe])
while True:
    _, cnt, _, aux, nxt = struct.unpack_from("<HHIII", b, vn)
    a = vn + aux
    for _ in range(cnt):
        _, flags, _, name, anext = struct.unpack_from("<IHHII", b, a)
        if b[strtab + name:].split(b"\0", 1)[0] == want:
            struct.pack_into("<H", b, a + 4, flags | 2)
            open(path, "wb").write(b)
            sys.exit(0)
        a += anext
    if nxt == 0:
        break
    vn += nxt
raise SystemExit("no requirement of that version")
PY
}
