#!/usr/bin/env bash
# Latency of signed requests with and without a flood of unauthenticated ones, against the real
# binary built in release mode (on the same machine as the load: both share its cores).
#   BENCH_SIGNED    signed requests per phase, sent one after another (default 2000)
#   BENCH_FLOODERS  connections posting unsigned requests (default 32)
#   BENCH_FLOOD_RATE  cap on the flood, requests per second (default: as fast as they can)
#   BENCH_RUST_LOG  hookshift's RUST_LOG (default info: one warn line per refused request)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --quiet --release --test integration hostile::flood_benchmark -- --ignored --nocapture 2>&1 \
    | grep -E '^(signed|  quiet|  flood| quiet| flood|flood)|panicked|FAILED'
