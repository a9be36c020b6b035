#!/bin/sh
# A short fuzz run of every target, for CI (`.ci/run` may call it). Needs a nightly toolchain
# and cargo-fuzz; skipped (exit 0) when either is missing. SECONDS_PER_TARGET defaults to 30.
# New corpus entries go to a scratch directory, so the committed corpus stays as it is; a
# crash leaves its input in fuzz/artifacts/<target>/ and fails the run.
set -eu
cd "$(dirname "$0")"
if ! cargo +nightly --version >/dev/null 2>&1 || ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz smoke run skipped: no nightly toolchain or cargo-fuzz" >&2
    exit 0
fi
secs=${SECONDS_PER_TARGET:-30}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for t in parse_elf ld_cache ld_so_conf resolve_small_root dlopen_note strings_scan symbols verify_image; do
    mkdir -p "$scratch/$t"
    cargo +nightly fuzz run "$t" "$scratch/$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=4096 -print_final_stats=1
done
