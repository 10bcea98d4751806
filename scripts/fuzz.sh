#!/usr/bin/env bash
# A short fuzz run (not part of CI; CI runs the property tests with their default case counts):
#   1. the harness self-test: it must report a planted panic;
#   2. every target of examples/fuzz.rs (signature, json, config, mapping, translate) for
#      FUZZ_SECONDS each (default 60); crashing inputs land in fuzz/artifacts/<target>/;
#   3. the property tests (tests/integration/properties.rs) with PROPTEST_CASES cases each
#      (default 5000).
# FUZZ_SEED makes a run repeatable (the seed of every run is printed).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
cases="${PROPTEST_CASES:-5000}"

cargo build --quiet --release --example fuzz

echo "== harness self-test"
if cargo run --quiet --release --example fuzz -- selftest --seconds 5 >/dev/null 2>&1; then
    echo "the fuzz harness missed a planted panic" >&2
    exit 1
fi
rm -rf fuzz/artifacts/selftest

echo "== fuzzing every target for ${seconds} s"
cargo run --quiet --release --example fuzz -- all --seconds "$seconds" ${FUZZ_SEED:+--seed "$FUZZ_SEED"}

echo "== property tests, ${cases} cases each"
HOOKSHIFT_PROPTEST_CASES="$cases" cargo test --quiet --release --test integration properties::
