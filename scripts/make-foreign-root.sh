#!/bin/bash
# make-foreign-root.sh ARCH DEST
#
# Build a Debian 12 (bookworm) root filesystem for a foreign architecture out of Debian's
# own packages, the way a real image is laid out, for depclose's foreign-root oracle
# (tests/foreign_roots.rs):
#
#   - `apt-get download` a modest package set (libc6, libc-bin, coreutils, bash, openssl,
#     curl and its libraries, sqlite3, zstd, ...) for ARCH, with a private apt state (the
#     host's dpkg architectures and apt lists are left alone);
#   - `dpkg -x` every package into DEST, then merge /usr as Debian 12 images have it
#     (`/bin -> usr/bin`, `/lib -> usr/lib`, `/sbin -> usr/sbin`, `/lib64 -> usr/lib64`);
#   - run the root's own `/sbin/ldconfig` inside `chroot DEST` under qemu-user-static, which
#     writes DEST/etc/ld.so.cache from the root's own /etc/ld.so.conf.
#
# The static qemu for ARCH stays in DEST/.depclose/qemu-ARCH-static so that the test can run
# the root's loader with `chroot DEST /.depclose/qemu-ARCH-static /lib/ld-…`; nothing else
# is added. DEST/.depclose/stamp records what was built: a rerun with the same inputs exits at
# once; otherwise DEST is rebuilt from scratch (atomically: DEST.new, then renamed).
#
# ARCH: a Debian architecture name: arm64, armhf, armel, i386, s390x, ppc64el, mips64el,
# amd64. (riscv64 is not in bookworm's main archive.)
#
# Environment:
#   DEPCLOSE_ROOTS_CACHE   download cache (default: target/depclose-roots of this checkout,
#                          as the tests use it)
#   DEPCLOSE_DEBIAN_MIRROR default http://deb.debian.org/debian
#   DEPCLOSE_DEBIAN_SECURITY default http://deb.debian.org/debian-security
#   DEPCLOSE_EXTRA_PACKAGES more package names, space separated
#
# Needs root (chroot) and, on a fresh machine, installs what it uses with apt-get
# (qemu-user-static, dpkg, apt). Prints DEST on success.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 ARCH DEST" >&2
    exit 2
fi
ARCH=$1
DEST=$(realpath -m "$2")
CACHE=${DEPCLOSE_ROOTS_CACHE:-$(cd "$(dirname "$0")/.." && pwd)/target/depclose-roots}
MIRROR=${DEPCLOSE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEPCLOSE_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
SUITE=bookworm
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

log() { echo "make-foreign-root[$ARCH]: $*" >&2; }

case "$ARCH" in
    arm64) QEMU=aarch64 ;;
    armhf | armel) QEMU=arm ;;
    i386) QEMU=i386 ;;
    amd64) QEMU=x86_64 ;;
    s390x) QEMU=s390x ;;
    ppc64el) QEMU=ppc64le ;;
    mips64el) QEMU=mips64el ;;
    riscv64) echo "riscv64 is not part of Debian 12's main archive (debian-ports only)" >&2; exit 2 ;;
    *) echo "unknown architecture $ARCH" >&2; exit 2 ;;
esac

# Programs and libraries: enough for several hundred ELF files with real closures (C, C++ and
# Fortran; plugins such as gconv, sasl2, OpenSSL and PAM modules; systemd's programs, whose
# RUNPATH names /usr/lib/<triplet>/systemd; BLAS/LAPACK reached through /etc/alternatives),
# about 40 MB of packages per architecture.
PACKAGES="
libc6 libc-bin libgcc-s1 libstdc++6 zlib1g libssl3 libzstd1 liblzma5 libbz2-1.0 libcrypt1
libmd0 libpcre2-8-0 libselinux1 libacl1 libattr1 libgmp10 libgmpxx4ldbl libcap2 libtinfo6
libncursesw6 libreadline8 libsqlite3-0 libexpat1 libffi8 libsnappy1v5
coreutils bash zstd openssl grep sed tar gzip findutils diffutils xz-utils bzip2 sqlite3 less
curl libcurl4 libnghttp2-14 libidn2-0 librtmp1 libssh2-1 libpsl5 libgssapi-krb5-2 libkrb5-3
libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1 libldap-2.5-0 libsasl2-2
libsasl2-modules-db libdb5.3 libbrotli1 libunistring2 libgnutls30 libnettle8 libhogweed6
libp11-kit0 libtasn1-6
systemd libsystemd-shared libsystemd0 libudev1 libapparmor1 libaudit1 libcap-ng0 libblkid1
libcryptsetup12 libargon2-1 libdevmapper1.02.1 libjson-c5 libuuid1 libfdisk1 libkmod2 liblz4-1
libseccomp2 libpam0g libgcrypt20 libgpg-error0 libip4tc2 libmount1
libblas3 liblapack3 libgfortran5
tzdata ca-certificates netbase
${DEPCLOSE_EXTRA_PACKAGES:-}"
PACKAGES=$(echo $PACKAGES | tr ' ' '\n' | sort -u | tr '\n' ' ')

native=false
case "$(dpkg --print-architecture 2>/dev/null || echo unknown):$ARCH" in
    amd64:amd64 | amd64:i386) native=true ;;
esac

need_install=()
command -v dpkg-deb >/dev/null || need_install+=(dpkg)
command -v apt-get >/dev/null || need_install+=(apt)
[ -r "$KEYRING" ] || need_install+=(debian-archive-keyring)
if ! $native && ! [ -x "/usr/bin/qemu-$QEMU-static" ]; then need_install+=(qemu-user-static); fi
if [ ${#need_install[@]} -gt 0 ]; then
    log "installing ${need_install[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_install[@]}" >&2
fi

# One build per architecture at a time (tests run in parallel); the lock lives in the cache.
mkdir -p "$CACHE"
exec 9>"$CACHE/lock-$ARCH"
flock 9

SCRIPT_SUM=$(sha256sum "$0" | cut -c1-16)
STAMP="script=$SCRIPT_SUM arch=$ARCH packages=$PACKAGES"
if [ -f "$DEST/.depclose/stamp" ] && [ "$(cat "$DEST/.depclose/stamp")" = "$STAMP" ] \
    && [ -f "$DEST/etc/ld.so.cache" ]; then
    log "up to date"
    echo "$DEST"
    exit 0
fi

# Private apt state for ARCH: sources, lists and the (empty) dpkg status.
APTDIR=$CACHE/apt-$ARCH
DEBS=$CACHE/debs-$ARCH
mkdir -p "$APTDIR/lists/partial" "$APTDIR/archives/partial" "$APTDIR/sources.list.d" "$DEBS"
cat >"$APTDIR/sources.list" <<EOF
deb [arch=$ARCH signed-by=$KEYRING] $MIRROR $SUITE main
deb [arch=$ARCH signed-by=$KEYRING] $MIRROR $SUITE-updates main
deb [arch=$ARCH signed-by=$KEYRING] $SECURITY $SUITE-security main
EOF
: >"$APTDIR/status"
APT_OPTS=(
    -o "Dir::Etc::SourceList=$APTDIR/sources.list"
    -o "Dir::Etc::SourceParts=$APTDIR/sources.list.d"
    -o "Dir::State::Lists=$APTDIR/lists"
    -o "Dir::State::status=$APTDIR/status"
    -o "Dir::Cache=$APTDIR"
    -o "Dir::Cache::archives=$APTDIR/archives"
    -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
    -o "APT::Architecture=$ARCH"
    -o "APT::Architectures::=$ARCH"
    -o "Acquire::Languages=none"
    -o "Debug::NoLocking=true"
    -o "APT::Sandbox::User=root"
)
# Refresh the lists when absent or older than a week.
if [ -z "$(find "$APTDIR/lists" -maxdepth 1 -name '*_Packages*' -mtime -7 2>/dev/null | head -1)" ]; then
    log "apt-get update"
    if ! apt-get "${APT_OPTS[@]}" -o Acquire::Retries=3 update -qq >&2; then
        # A mirror in the middle of a sync fails one index (often -security); the main suite
        # is enough to build a consistent root.
        if ls "$APTDIR/lists/"*"_dists_${SUITE}_main_binary-${ARCH}_Packages"* >/dev/null 2>&1; then
            log "warning: apt-get update failed for some index; continuing with what was fetched"
        else
            echo "apt-get update failed and there is no $SUITE main index for $ARCH" >&2
            exit 1
        fi
    fi
fi

# Download what is not cached yet. File names come from --print-uris, run in an empty
# directory (apt-get download leaves out files already present in the current one).
mkdir -p "$APTDIR/empty"
# shellcheck disable=SC2086
URIS=$(cd "$APTDIR/empty" && apt-get "${APT_OPTS[@]}" download --print-uris $PACKAGES)
FILES=()
MISSING=()
while read -r uri file _rest; do
    [ -n "$uri" ] || continue
    FILES+=("$file")
    [ -s "$DEBS/$file" ] || MISSING+=("$(echo "$file" | cut -d_ -f1)")
done < <(echo "$URIS" | tr -d "'")
if [ ${#FILES[@]} -ne "$(echo $PACKAGES | wc -w)" ]; then
    echo "expected $(echo $PACKAGES | wc -w) packages, apt-get gave ${#FILES[@]}" >&2
    exit 1
fi
if [ ${#MISSING[@]} -gt 0 ]; then
    log "downloading ${#MISSING[@]} packages"
    (cd "$DEBS" && apt-get "${APT_OPTS[@]}" download -qq "${MISSING[@]}" >&2)
fi

# Extract into a fresh tree.
NEW=$DEST.new
rm -rf "$NEW"
mkdir -p "$NEW"
for f in "${FILES[@]}"; do
    dpkg-deb -x "$DEBS/$f" "$NEW"
done

# Merged /usr, as debootstrap and usrmerge leave a Debian 12 system: move the content of the
# top-level directories into /usr and replace them by relative symlinks.
for d in bin sbin lib lib32 lib64 libx32 libo32; do
    if [ -d "$NEW/$d" ] && ! [ -L "$NEW/$d" ]; then
        mkdir -p "$NEW/usr/$d"
        (cd "$NEW/$d" && tar -cf - .) | (cd "$NEW/usr/$d" && tar -xf - --keep-directory-symlink)
        rm -rf "${NEW:?}/$d"
    fi
    if [ -d "$NEW/usr/$d" ]; then
        ln -s "usr/$d" "$NEW/$d"
    fi
done
for d in bin sbin lib; do
    [ -e "$NEW/$d" ] || { mkdir -p "$NEW/usr/$d"; ln -s "usr/$d" "$NEW/$d"; }
done
mkdir -p "$NEW/etc" "$NEW/tmp" "$NEW/dev" "$NEW/proc" "$NEW/.depclose" "$NEW/var/cache/ldconfig"
chmod 1777 "$NEW/tmp"

# What maintainer scripts would have done that matters to the loader (dpkg -x runs none):
# update-alternatives for BLAS and LAPACK (libblas3.postinst, liblapack3.postinst), which
# leaves two absolute symlinks between the name the loader searches and the file.
TRIPLET=$(basename "$(dirname "$(find "$NEW/usr/lib" -name 'libc.so.6' | head -1)")")
alternative() { # LINK NAME PATH
    mkdir -p "$NEW/etc/alternatives"
    ln -sfn "$3" "$NEW/etc/alternatives/$2"
    ln -sfn "/etc/alternatives/$2" "$NEW$1"
}
for lib in blas lapack; do
    if [ -e "$NEW/usr/lib/$TRIPLET/$lib/lib$lib.so.3" ]; then
        alternative "/usr/lib/$TRIPLET/lib$lib.so.3" "lib$lib.so.3-$TRIPLET" "/usr/lib/$TRIPLET/$lib/lib$lib.so.3"
    fi
done
# ca-certificates.postinst (update-ca-certificates) writes the bundle every TLS library reads
# and the hashed links of /etc/ssl/certs: the bundle is the concatenation of the certificates
# /etc/ca-certificates.conf enables (all of them by default), which is what it writes.
if [ -d "$NEW/usr/share/ca-certificates" ]; then
    mkdir -p "$NEW/etc/ssl/certs"
    (cd "$NEW/usr/share/ca-certificates" && find . -name '*.crt' | sort | while read -r c; do
        cat "$c"
        ln -sfn "/usr/share/ca-certificates/${c#./}" "$NEW/etc/ssl/certs/$(basename "$c" .crt).pem"
    done) >"$NEW/etc/ssl/certs/ca-certificates.crt"
fi
# tzdata.postinst: /etc/localtime and /etc/timezone (UTC, as a debconf default would leave it).
if [ -e "$NEW/usr/share/zoneinfo/Etc/UTC" ]; then
    ln -sfn /usr/share/zoneinfo/Etc/UTC "$NEW/etc/localtime"
    echo Etc/UTC >"$NEW/etc/timezone"
fi
# A locally installed copy of libzstd in /usr/local/lib/<triplet>, a directory that only the
# root's ld.so.conf names (libc6's <triplet>.conf, listed before the Debian directories): the
# loader finds this copy through ld.so.cache, before the default directories' copy.
ZSTD=$(cd "$NEW/usr/lib/$TRIPLET" && ls libzstd.so.1.* | head -1)
mkdir -p "$NEW/usr/local/lib/$TRIPLET"
cp "$NEW/usr/lib/$TRIPLET/$ZSTD" "$NEW/usr/local/lib/$TRIPLET/$ZSTD"
ln -s "$ZSTD" "$NEW/usr/local/lib/$TRIPLET/libzstd.so.1"

# The root's own ldconfig, inside the root.
RUN=()
if ! $native; then
    cp "/usr/bin/qemu-$QEMU-static" "$NEW/.depclose/qemu-$QEMU-static"
    RUN=("/.depclose/qemu-$QEMU-static")
fi
LDCONFIG=/sbin/ldconfig
[ -e "$NEW/sbin/ldconfig" ] || LDCONFIG=/usr/sbin/ldconfig
log "running the root's $LDCONFIG"
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$NEW" "${RUN[@]}" "$LDCONFIG"
[ -s "$NEW/etc/ld.so.cache" ] || { echo "ldconfig wrote no cache" >&2; exit 1; }

echo "$STAMP" >"$NEW/.depclose/stamp"
rm -rf "$DEST"
mv "$NEW" "$DEST"
log "built $(find "$DEST" -type f | wc -l) files"
echo "$DEST"
