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
