# Helpers shared by every fixtures-elf/musl/<case>/build.sh. Usage, first line of a build.sh:
#     . "$(dirname "$0")/../common.sh" "$@"
# Sets OUT (the canonical output directory, created), CASE (the case's source directory),
# LOADER (the PT_INTERP that musl-gcc writes, /lib/ld-musl-x86_64.so.1) and defines the
# helpers below. Needs Debian's musl-tools (musl-gcc) and patchelf. Libraries are linked with
# -nostdlib, so they have only the DT_NEEDED entries a case gives them; executables are
# ordinary musl programs (DT_NEEDED libc.so). See ldso-spec.md §7.
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
mkdir -p "$1"
OUT=$(cd "$1" && pwd -P)
CASE=$(cd "$(dirname "$0")" && pwd -P)
MUSL=$(dirname "$CASE")
CC=${MUSL_CC:-musl-gcc}
LOADER=/lib/ld-musl-x86_64.so.1
OBJ=$OUT/.obj
mkdir -p "$OBJ"
$CC -c -fPIC -o "$OBJ/lib.o" "$MUSL/common/lib.c"
$CC -c -fPIE -o "$OBJ/main.o" "$MUSL/common/main.c"

# lib PATH [FLAGS...]: a shared library. SONAME is the file name unless $SONAME is set
# ('' = no DT_SONAME). $SRC replaces common/lib.c.
lib() {
    local path=$1
    shift
    local soname=${SONAME-$(basename "$path")}
    local flags=()
    [ -n "$soname" ] && flags+=("-Wl,-soname,$soname")
    mkdir -p "$(dirname "$path")"
    $CC -shared -fPIC -nostdlib -o "$path" "${SRC:-$OBJ/lib.o}" "${flags[@]}" "$@"
}

# lib32 PATH: a 32-bit (ELFCLASS32, EM_386) library (no libc, no crt files: no multilib needed).
lib32() {
    local path=$1
    mkdir -p "$(dirname "$path")"
    gcc -m32 -shared -fPIC -nostdlib -o "$path" "$MUSL/common/lib.c" "-Wl,-soname,$(basename "$path")"
}

# exe PATH [FLAGS...]: a musl program (PT_INTERP $LOADER, NEEDED libc.so). $SRC replaces main.c.
exe() {
    local path=$1
    shift
    mkdir -p "$(dirname "$path")"
    $CC -o "$path" "${SRC:-$OBJ/main.o}" "$@"
}

# needs FILE NAME...: prepend DT_NEEDED entries so that they come in the given order, before
# the existing ones (patchelf --add-needed prepends, so add them in reverse).
needs() {
    local file=$1
    shift
    local i
    for ((i = $#; i >= 1; i--)); do
        patchelf --add-needed "${!i}" "$file"
    done
}

# rpath FILE VALUE: set DT_RPATH. runpath FILE VALUE: set DT_RUNPATH.
rpath() { patchelf --force-rpath --set-rpath "$2" "$1"; }
runpath() { patchelf --set-rpath "$2" "$1"; }

# interp FILE PATH: set PT_INTERP.
interp() { patchelf --set-interpreter "$2" "$1"; }

# loader_copy PATH: a copy of this machine's musl loader (the file behind $LOADER) at PATH.
loader_copy() {
    mkdir -p "$(dirname "$1")"
    cp "$(readlink -f "$LOADER")" "$1"
}

# patch_bytes FILE OFFSET HEX...: overwrite bytes in place (e.g. patch_bytes f 5 02).
patch_bytes() {
    local file=$1 off=$2
    shift 2
    local b
    for b in "$@"; do
        printf "\\x$b" | dd of="$file" bs=1 seek="$off" conv=notrunc status=none
        off=$((off + 1))
    done
}

# dyn_entry_offset FILE TAGNAME VALUE: file offset of the dynamic entry printed by readelf as
# "(TAGNAME) ... [VALUE]".
dyn_entry_offset() {
    local file=$1 tag=$2 value=$3
    local dynoff idx
    dynoff=$(readelf -lW "$file" | awk '$1 == "DYNAMIC" { print $2 }')
    idx=$(readelf -dW "$file" | awk -v t="($tag)" -v v="[$value]" '
        /^ *0x/ { if ($2 == t && index($0, v) > 0) { print n + 0; exit } n++ }')
    [ -n "$idx" ] || { echo "no $tag [$value] in $file" >&2; return 1; }
    echo $((dynoff + idx * 16))
}

# both_tags FILE RPATH RUNPATH: give FILE both DT_RPATH and DT_RUNPATH (patchelf cannot): set
# the RPATH, add a DT_NEEDED whose string is the RUNPATH value, then retag it DT_RUNPATH (29).
both_tags() {
    local file=$1
    rpath "$file" "$2"
    patchelf --add-needed "$3" "$file"
    patch_bytes "$file" "$(dyn_entry_offset "$file" NEEDED "$3")" 1d
    readelf -dW "$file" | grep "(RUNPATH)" | grep -qF "[$3]" || { echo "both_tags failed on $file" >&2; return 1; }
}

# musl_root DIR: a minimal root for a chroot: the loader at DIR$LOADER (a copy, so the root
# does not depend on the host's layout), /etc present, no ld-musl path file.
musl_root() {
    loader_copy "$1$LOADER"
    mkdir -p "$1/etc"
}
