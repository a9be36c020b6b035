#!/usr/bin/env bash
# Run every test of depclose, installing what the tests need on a fresh Debian 12 machine.
#
#   scripts/test.sh            # everything
#   scripts/test.sh --quick    # skip the slow end-to-end and foreign-architecture tests
#
# Needs root for apt-get and for the chroot-based tests (as CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1

# --- Debian packages the tests use -------------------------------------------------------
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

# --- Rust checks ----------------------------------------------------------------------------
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --all-features -- -D warnings
echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features --quiet
echo "== cargo build (library only, no default features)"
cargo build --no-default-features --quiet

# --- Tests ----------------------------------------------------------------------------------
export DEPCLOSE_REQUIRE_FOREIGN="${DEPCLOSE_REQUIRE_FOREIGN:-1}"
if [ "$quick" = 1 ]; then
  export DEPCLOSE_REQUIRE_FOREIGN=0 DEPCLOSE_SKIP_SLOW=1
fi
echo "== cargo test"
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
