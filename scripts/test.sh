#!/usr/bin/env bash
# Run the tests of depclose, in tiers:
#
#   scripts/test.sh              # every tier (what CI runs, .ci/run): Debian 12, as root
#   scripts/test.sh --hermetic   # the contributor's tier: no root, no apt, no network
#   scripts/test.sh --quick      # every tier, without the slow end-to-end and foreign-architecture tests
#
# 1. hermetic: cargo fmt, clippy, cargo doc, `DEPCLOSE_HERMETIC=1 cargo test --all-features`
#    (tests that need root, chroot, qemu, a network or a Debian package other than a Rust
#    toolchain's C compiler and binutils print "skipped: needs ..." and pass), the examples;
# 2. builds: `cargo build --locked`, the library alone (`cargo test --no-default-features`,
#    hermetic), and the declared rust-version (clippy's incompatible_msrv lint: only the 1.95
#    and nightly toolchains are installed, so no 1.85 compiler builds it);
# 3. oracle (not with --hermetic): installs with apt-get what the tests use, then every test
#    (`cargo test --all-features`: the real ld.so, chroot images, qemu foreign roots, OCI
#    clients), the README's install command, a short fuzz run.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
hermetic=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --hermetic) hermetic=1 ;;
    *) echo "usage: scripts/test.sh [--hermetic | --quick]" >&2; exit 2 ;;
  esac
done

# --- Tier 1: hermetic ---------------------------------------------------------------------
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --all-features -- -D warnings
echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features --quiet
echo "== cargo test (hermetic)"
DEPCLOSE_HERMETIC=1 cargo test --all-features
echo "== examples"
cargo run --quiet --example closure /bin/sh >/dev/null
cargo run --quiet --example sysroot_batch / /usr/bin
examples_tmp=$(mktemp -d)
cargo run --quiet --example rootfs "$examples_tmp/sh.tar.gz"
tar -tzf "$examples_tmp/sh.tar.gz" >"$examples_tmp/list"
grep -q "libc.so.6$" "$examples_tmp/list"
rm -rf "$examples_tmp"

# --- Tier 2: builds ----------------------------------------------------------------------------
echo "== cargo build --locked"
cargo build --locked --quiet
echo "== cargo test --no-default-features (the library alone, hermetic)"
DEPCLOSE_HERMETIC=1 cargo test --no-default-features --quiet
# The declared rust-version (Cargo.toml) is checked by clippy's incompatible_msrv lint, which
# reads it: a std API stabilised after it is an error.
echo "== rust-version: clippy incompatible_msrv"
cargo clippy --all-targets --all-features --quiet -- -D clippy::incompatible_msrv

if [ "$hermetic" = 1 ]; then
  echo "== hermetic tiers passed"
  exit 0
fi

# --- Tier 3: oracle: the Debian packages the tests use -----------------------------------
# gcc/binutils/patchelf: fixtures-elf builds; musl-tools: musl fixtures; redis-server and
# redis-tools: the rootfs end-to-end test; qemu-user-static: the foreign-architecture oracle;
# skopeo, umoci, podman: the OCI image clients (tests/oci.rs, tests/first_hour.rs);
# python3-pip: spdx-tools; python3-jsonschema: the JSON Schema check (tests/json_schema.rs);
# python3-pyelftools: e_machine names (tests/json_schema.rs); python3-yaml: the README's
# `-r` example (tests/readme.rs). (benches/compare.py installs libtree itself: no test uses it.)
packages=(gcc libc6-dev binutils patchelf musl-tools redis-server redis-tools
          qemu-user-static python3 python3-pip python3-pyelftools python3-jsonschema python3-yaml openssl libssl3
          zlib1g curl git xz-utils zstd skopeo umoci podman imagemagick libcap2-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The SPDX project's validator for the SBOM test (tests/sbom.rs).
if ! command -v pyspdxtools >/dev/null 2>&1; then
  echo "== pip install spdx-tools"
  python3 -m pip install --quiet spdx-tools 2>/dev/null || python3 -m pip install --quiet --break-system-packages spdx-tools
fi
# The Debian package starts a redis server; the tests start their own.
systemctl stop redis-server 2>/dev/null || service redis-server stop 2>/dev/null || true

# --- Every test, the oracles included ---------------------------------------------------
export DEPCLOSE_REQUIRE_FOREIGN="${DEPCLOSE_REQUIRE_FOREIGN:-1}"
if [ "$quick" = 1 ]; then
  export DEPCLOSE_REQUIRE_FOREIGN=0 DEPCLOSE_SKIP_SLOW=1
fi
echo "== cargo test (every tier)"
cargo test --all-features

# --- The README's install command, into a scratch root, and the installed binary run --------
echo "== cargo install --path . (as the README says)"
inst=$(mktemp -d)
trap 'rm -rf "$inst"' EXIT
cargo install --quiet --locked --path . --root "$inst"
"$inst/bin/depclose-cli" --version
"$inst/bin/depclose-cli" /bin/sh >/dev/null

# --- A short fuzz run of every target (the stable replay of the corpora ran above) ----------
# cargo-fuzz needs a nightly toolchain; the machine ships one. Skipped without it.
if [ "$quick" = 0 ] && cargo +nightly --version >/dev/null 2>&1; then
  if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "== cargo install cargo-fuzz"
    cargo install --quiet --locked cargo-fuzz
  fi
  echo "== fuzz smoke run (${SECONDS_PER_TARGET:-30} s per target)"
  fuzz/ci-smoke.sh
fi
echo "== all tests passed"
