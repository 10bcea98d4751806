#!/usr/bin/env python3
"""Instructions per call of the pipeline benchmark's functions, counted by valgrind (cachegrind).

Timings on a shared 2-core machine move with whatever else runs; instruction counts do not. For each
case and function this runs the criterion binary in its BENCH_REPEAT mode under
`valgrind --tool=cachegrind --cache-sim=no` with 0 and N repetitions and prints
(I refs(N) - I refs(0)) / N, and the ratios of `pipeline` and `forward` to `floor`.

Usage: bench/instructions.py [--repeat 200] [--cases 2025-04-21_to_2026-02-09/5k,...] [--functions ...]
"""

import argparse
import json
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
FUNCTIONS = ["floor", "pipeline", "forward", "verify", "parse_strict", "scan", "parse_serde_json",
             "clone", "translate", "serialize", "sign"]


def bench_binary():
    out = subprocess.run(
        ["cargo", "bench", "--bench", "pipeline", "--no-run", "--message-format=json"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "pipeline" \
                and msg.get("executable"):
            return msg["executable"]
    raise SystemExit("pipeline bench executable not found")


def irefs(binary, spec):
    run = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         binary],
        cwd=ROOT, env={"BENCH_REPEAT": spec, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True)
    return int(re.search(r"I\s+refs:\s+([\d,]+)", run.stderr).group(1).replace(",", ""))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--cases", default="2025-04-21_to_2026-02-09/5k,2025-04-21_to_2026-02-09/100k")
    parser.add_argument("--functions", default=",".join(FUNCTIONS))
    args = parser.parse_args()
    binary = bench_binary()
    print("| case | function | instructions/call | vs floor |")
    print("| --- | --- | ---: | ---: |")
    for case in args.cases.split(","):
        repeat = args.repeat if "100k" not in case else max(args.repeat // 10, 5)
        base = irefs(binary, f"{case}/floor:0")
        floor = None
        for function in args.functions.split(","):
            per_call = (irefs(binary, f"{case}/{function}:{repeat}") - base) / repeat
            if function == "floor":
                floor = per_call
            ratio = f"{per_call / floor:.2f}" if floor else "-"
            print(f"| {case} | {function} | {per_call:,.0f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
