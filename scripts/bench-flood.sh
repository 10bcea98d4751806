#!/usr/bin/env bash
# Two floods against the real binary built in release mode (on the same machine as the load: both
# share its cores), on 127.0.0.1 only, bounded in count and time.
#
# 1. Latency of signed requests with and without a flood of small unauthenticated ones:
#   BENCH_SIGNED    signed requests per phase, sent one after another (default 2000)
#   BENCH_FLOODERS  connections posting unsigned requests (default 32)
#   BENCH_FLOOD_RATE  cap on the flood, requests per second (default: as fast as they can)
#   BENCH_RUST_LOG  hookshift's RUST_LOG (default info: one warn line per refused request)
# 2. Memory under a flood of large unauthenticated bodies (fresh timestamp, made-up signature), the
#    binary's VmHWM read from /proc, while signed 5 KB events are sent one after another:
#   BENCH_BODY_CLIENTS  connections, each sending one body at a time (default 100)
#   BENCH_BODY_ROUNDS   bodies per connection (default 1)
#   BENCH_BODY_MB       body size in MB (default 20; the shipped max_body_bytes is 25 MiB)
#   BENCH_BODY_HOLD_S   seconds the last MiB of each body is held back (default 8)
#   BENCH_BODY_BUDGET_MB  server.max_buffered_bytes in MiB (default: the shipped 256 MiB)
# BENCH_ONLY=signed or BENCH_ONLY=memory runs one of them.
set -euo pipefail
cd "$(dirname "$0")/.."
only="${BENCH_ONLY:-}"
if [ -z "$only" ] || [ "$only" = signed ]; then
    cargo test --quiet --release --test integration hostile::flood_benchmark -- --ignored --nocapture 2>&1 \
        | grep -E '^(signed|  quiet|  flood| quiet| flood|flood)|panicked|FAILED'
fi
if [ -z "$only" ] || [ "$only" = memory ]; then
    cargo test --quiet --release --test integration memory::body_flood_benchmark -- --ignored --nocapture 2>&1 \
        | grep -E '^(body flood|  memory|  signed)|panicked|FAILED'
fi
