#!/usr/bin/env bash
# Runs every fuzz target in tests/fuzz for a bounded time; fails on the
# first crash, hang (-timeout) or memory blow-up (-rss_limit_mb).
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# cargo-fuzz wants nightly flags (-Z...); RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept them. No sanitizer (-s none): the crate forbids unsafe
# code, so AddressSanitizer would only slow the runs. Debug assertions and
# overflow checks are on (-a): panics, arithmetic overflow, timeouts and
# memory blow-ups are what we look for.
# Seeds are regenerated from the fixtures each time (tests/fuzz/seeds.py);
# the corpus grows in tests/fuzz/corpus/ (not versioned), crashes land in
# tests/fuzz/artifacts/<target>/.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${1:-20}
shift || true
export RUSTC_BOOTSTRAP=1

python3 fuzz/seeds.py
cargo fuzz build --fuzz-dir fuzz -s none -a
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for target in "${targets[@]}"; do
    if cargo fuzz run --fuzz-dir fuzz -s none -a "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
        corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
        printf '%-18s ok: %s runs in %s s, %s, corpus %s inputs\n' "$target" "$runs" "$seconds" "$cov" "$corpus"
    else
        echo "error: fuzz target $target failed; its output:" >&2
        tail -n 80 "$log" >&2
        exit 1
    fi
done
