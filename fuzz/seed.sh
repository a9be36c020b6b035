#!/bin/sh
# Copies the real-file seeds into fuzz/corpus/ (run from fuzz/ on a Debian/x86_64 host with
# gcc and ldconfig), then generates the synthetic ones. Keep the corpora small (< 2 MB).
set -eu
cd "$(dirname "$0")"
mkdir -p corpus/parse_elf corpus/ld_cache corpus/ld_so_conf corpus/resolve_small_root
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
cargo +nightly run -q --example gen_seeds
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
