#!/bin/sh
# Copies the real-file seeds into fuzz/corpus/ (run from fuzz/ on a Debian/x86_64 host with
# gcc and ldconfig), then generates the synthetic ones. Keep the corpora small (< 2 MB).
set -eu
cd "$(dirname "$0")"
mkdir -p corpus/parse_elf corpus/ld_cache corpus/ld_so_conf corpus/resolve_small_root corpus/symbols
cp /bin/true corpus/parse_elf/real-true
cp /lib/x86_64-linux-gnu/libutil.so.1 corpus/parse_elf/real-libutil.so.1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'int f(void) { return 1; }\n' >"$tmp/l.c"
gcc -m32 -shared -fPIC -nostdlib -Wl,-soname,libl32.so -o corpus/parse_elf/real-lib32 "$tmp/l.c"
# ld.so.cache: the host's, and small ones in each format from a two-library root.
cp /etc/ld.so.cache corpus/ld_cache/real-host
mkdir -p "$tmp/root/lib" "$tmp/root/etc" "$tmp/root/usr/lib/glibc-hwcaps/x86-64-v3"
gcc -shared -fPIC -nostdlib -Wl,-soname,liba.so.1 -o "$tmp/root/lib/liba.so.1" "$tmp/l.c"
gcc -shared -fPIC -nostdlib -Wl,-soname,libb.so.2 -o "$tmp/root/usr/lib/libb.so.2" "$tmp/l.c"
cp "$tmp/root/usr/lib/libb.so.2" "$tmp/root/usr/lib/glibc-hwcaps/x86-64-v3/"
printf '/lib\n/usr/lib\n' >"$tmp/root/etc/ld.so.conf"
for f in new old compat; do
    ldconfig -r "$tmp/root" -c "$f" -C /etc/ld.so.cache -f /etc/ld.so.conf -X
    cp "$tmp/root/etc/ld.so.cache" "corpus/ld_cache/small-$f"
done
cp /etc/ld.so.conf corpus/ld_so_conf/real-ld.so.conf
for f in /etc/ld.so.conf.d/*.conf; do cp "$f" "corpus/ld_so_conf/real-$(basename "$f")"; done
printf 'include /etc/ld.so.conf.d/*.conf\ninclude ld.so.conf.d/[ab].conf\n/usr/local/lib=libc6\n\n  # c\nhwcap 1 x\nHWCAP 2 y\n/opt/a/ /opt/b\n' \
    >corpus/ld_so_conf/handmade
# symbols: a small versioned library (f@V_1, f@@V_2, TLS, an import), the head of libz.
printf 'int f1(void){return 1;}\nint f2(void){return 2;}\n__asm__(".symver f1,f@V_1");\n__asm__(".symver f2,f@@V_2");\nextern int puts(const char*); int g(void){return puts("x");}\n__thread int tv;\n' >"$tmp/v.c"
printf 'V_1 { global: f; g; tv; };\nV_2 { global: f; } V_1;\n' >"$tmp/v.map"
gcc -shared -fPIC -nostartfiles -Wl,--version-script="$tmp/v.map" -Wl,-z,max-page-size=0x10 -Wl,-z,noseparate-code \
    -o corpus/symbols/real-libv.so "$tmp/v.c" -lc
head -c 4096 /lib/x86_64-linux-gnu/libz.so.1 >corpus/symbols/real-libz-head4096
cargo +nightly run -q --example gen_seeds
# dlopen_note: JSON descriptors, and small libraries assembled with .note.dlopen notes.
mkdir -p corpus/dlopen_note
printf '[{"soname":["libfoo.so.1","libfoo.so.0"],"feature":"foo","description":"Foo","priority":"suggested"}]\0' \
    >corpus/dlopen_note/json-full
printf '[{"soname":["libz.so.1"],"priority":"required"},{"soname":["liblz4.so.1"],"priority":"recommended"}]\0' \
    >corpus/dlopen_note/json-two
printf '[{"soname":["libx.so"],"x":{"y":[1,2.5e3,null,true,"\\u00e4"]}},{"feature":"none"},7]' >corpus/dlopen_note/json-odd
note() { # owner type json
    printf '\t.balign 4\n\t.long 2f-1f ; .long 4f-3f ; .long %s\n1:\t.asciz "%s"\n2:\t.balign 4\n3:\t.asciz "%s"\n4:\t.balign 4\n' \
        "$2" "$1" "$(printf '%s' "$3" | sed 's/["\\]/\\&/g')"
}
{
    printf '\t.section .note.dlopen,"a",@note\n'
    note FDO 0x407c0c0a '[{"soname":["libzstd.so.1"],"feature":"zstd","priority":"required"}]'
    note FDO 0x407c0c0a '[{"soname":["libfoo.so.1","libfoo.so.0"],"priority":"suggested"}]'
    note FDX 0x407c0c0a '[{"soname":["libwrong.so.1"]}]'
    note FDO 0x407c0c0b '[{"soname":["libwrong.so.2"]}]'
    note FDO 0x407c0c0a '[{"soname":["libbad.so.1"]'
    printf '\t.section .note.GNU-stack,"",@progbits\n'
} >"$tmp/n.S"
gcc -shared -nostdlib -o corpus/dlopen_note/real-lib64 "$tmp/n.S"
gcc -m32 -shared -nostdlib -o corpus/dlopen_note/real-lib32 "$tmp/n.S"
# strings_scan: string tables with paths and sonames, and a small real library.
mkdir -p corpus/strings_scan
printf '\0/usr/lib/ssl\0libz.so.1\0\001/bin/sh\0/usr/lib/%%s\0/tmp\0libfoo.so\0/a b\0' >corpus/strings_scan/table
printf 'x/etc/passwd\0libc.so.6.1\0\177/dev/null\0' >corpus/strings_scan/mixed
cp /lib/x86_64-linux-gnu/libdl.so.2 corpus/strings_scan/real-libdl
printf '#! /usr/bin/env  python3 -u \t\nprint(1)\n' >corpus/strings_scan/shebang-env
printf '#!/bin/sh\n' >corpus/strings_scan/shebang-sh
# verify_image: small archives, plain and hostile (python3's tarfile; deterministic).
mkdir -p corpus/verify_image
python3 - corpus/verify_image <<'PY'
import gzip, io, sys, tarfile
out = sys.argv[1]
elf = (b"\x7fELF\x02\x01\x01" + b"\0" * 9 + (2).to_bytes(2, "little") + (62).to_bytes(2, "little")
       + (1).to_bytes(4, "little") + (0x400078).to_bytes(8, "little") + (64).to_bytes(8, "little")
       + bytes(8) + bytes(4) + b"".join(v.to_bytes(2, "little") for v in (64, 56, 1, 64, 0, 0))
       + (1).to_bytes(4, "little") + (5).to_bytes(4, "little")
       + b"".join(v.to_bytes(8, "little") for v in (0, 0x400000, 0x400000, 124, 124, 0x1000)) + b"\xf4\0\0\0")
def tar(members, fmt=tarfile.GNU_FORMAT):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=fmt) as t:
        for name, kind, data, link in members:
            i = tarfile.TarInfo(name); i.type = kind; i.mtime = 0; i.mode = 0o755
            i.linkname = link; i.size = len(data) if kind == tarfile.REGTYPE else 0
            t.addfile(i, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return b.getvalue()
R, D, S, H = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
seeds = {
    "rootfs": tar([("bin", D, b"", ""), ("bin/prog", R, elf, ""), ("bin/alias", S, b"", "prog"),
                   ("bin/hard", H, b"", "bin/prog"), ("lib", S, b"", "/nowhere"),
                   ("d/" + "x" * 120, R, b"long", "")]),
    "pax": tar([("p/" + "y" * 150, R, b"pax", ""), ("l", S, b"", "z" * 130)], tarfile.PAX_FORMAT),
    "dotdot": tar([("../../outside/evil", R, b"x", "")]),
    "through-link": tar([("l", S, b"", "../../outside"), ("l/evil", R, b"x", "")]),
    "hardlink-out": tar([("l", S, b"", "../../outside"), ("h", H, b"", "l/canary")]),
    "truncated-elf": tar([("bin/prog", R, elf[:100], "")]),
    "oci-index": tar([("oci-layout", R, b'{"imageLayoutVersion":"1.0.0"}', ""),
                      ("index.json", R, b'{"schemaVersion":2,"manifests":[{"digest":"sha256:../../outside/canary","size":1}]}', "")]),
}
seeds["rootfs.gz"] = gzip.compress(seeds["rootfs"], mtime=0)
import hashlib, json
layer = tar([("bin", D, b"", ""), ("bin/prog", R, elf, ""), ("bin/.wh.gone", R, b"", "")])
config = json.dumps({"rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
seeds["docker-archive"] = tar([("manifest.json", R, json.dumps([{"Config": "c.json", "RepoTags": ["a:b"], "Layers": ["l/layer.tar"]}]).encode(), ""),
                               ("c.json", R, config, ""), ("l", D, b"", ""), ("l/layer.tar", R, layer, "")])
for name, data in seeds.items():
    open(f"{out}/{name}", "wb").write(data)
PY
