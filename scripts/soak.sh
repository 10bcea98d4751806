#!/usr/bin/env bash
# Soak: the reliability tests in release mode, the no-loss test scaled up.
#   SOAK_EVENTS       events through the faulty handler (default 200000; CI runs 20000)
#   SOAK_CONCURRENCY  sender concurrency (default 64)
# Every run prints what it measured (events, attempts by status, handler faults, duration) and fails
# on any lost event or any disagreement between /metrics, the sender and the handler.
# Then the flood benchmark (scripts/bench-flood.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

export HOOKSHIFT_SOAK_EVENTS="${SOAK_EVENTS:-200000}"
export HOOKSHIFT_SOAK_CONCURRENCY="${SOAK_CONCURRENCY:-64}"

echo "== reliability (release): ${HOOKSHIFT_SOAK_EVENTS} events at concurrency ${HOOKSHIFT_SOAK_CONCURRENCY}"
cargo test --release --test integration reliability:: -- --nocapture --test-threads=1 2>&1 \
    | grep -E '^(no-loss|restart|binary SIGTERM|reloads):|^test |test result|panicked' 

"$(dirname "$0")/bench-flood.sh"
