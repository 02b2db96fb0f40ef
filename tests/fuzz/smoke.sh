#!/usr/bin/env bash
# A short fuzz smoke run: builds the targets and runs each for a few seconds from its seeds
# (only the seeds: a grown corpus in tests/fuzz/corpus is left alone).
# Usage: tests/fuzz/smoke.sh [SECONDS_PER_TARGET]   (default 5)
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); nightly features come from
# RUSTC_BOOTSTRAP=1 on the stable toolchain. Exits non-zero on the first crash, leaving the
# input in tests/fuzz/artifacts/<target>/. FUZZ_FLAGS are cargo-fuzz's build flags, `-O` by
# default: the release build with AddressSanitizer the long runs used (cargo-fuzz turns debug
# assertions off with it; without it, a second full build with them on). .ci/run uses
# `--dev -s none` (unoptimised, no sanitizer, debug assertions on): a quarter of the build time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seconds="${1:-5}"
read -r -a flags <<<"${FUZZ_FLAGS:--O}"
export RUSTC_BOOTSTRAP=1
# ASan without per-allocation stack traces or the leak check: 20 % more executions.
export ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=0:detect_leaks=0}"
cd "$here"
seeds="$(mktemp -d)"
./seeds.sh "$seeds" >/dev/null
cargo fuzz build --fuzz-dir . "${flags[@]}" 2>&1 | tail -n 1
for target in formula labels_codes csv_ingest xlsx_raw xlsx_parts http_bodies; do
    work="$(mktemp -d)"
    cp -r "$seeds/$target/." "$work/"
    start=$(date +%s)
    if ! cargo fuzz run --fuzz-dir . "${flags[@]}" "$target" "$work" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -print_final_stats=1 >"$work.log" 2>&1; then
        tail -n 40 "$work.log"
        echo "fuzz smoke: $target FAILED (log $work.log)"
        exit 1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work.log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz smoke: $target ok, $runs runs in $(($(date +%s) - start)) s"
    rm -rf "$work" "$work.log"
done
rm -rf "$seeds"
