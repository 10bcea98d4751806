#!/usr/bin/env python3
"""Instructions per call of the pipeline benchmark's functions, counted by valgrind (cachegrind).

Timings on a shared 2-core machine move with whatever else runs; instruction counts do not. For each
case and function this runs the criterion binary in its BENCH_REPEAT mode under
`valgrind --tool=cachegrind --cache-sim=no` with 0 and N repetitions and prints
(I refs(N) - I refs(0)) / N, and the ratios of `pipeline` and `forward` to `floor`.

Usage: bench/instructions.py [--repeat 200] [--cases 2025-04-21_to_2026-02-09/5k,...] [--functions ...]

Regression guard (CI, `.ci/run`): `--check bench/instructions-baseline.json` counts the guarded
functions (`pipeline` and `forward`, 5 KB and 100 KB) and fails when one exceeds its committed
baseline by more than the baseline's tolerance; `--record bench/instructions-baseline.json` writes the
baseline from this build (after a deliberate change; commit it with the reason).
"""

import argparse
import json
import pathlib
import re
import subprocess
import sys

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


GUARDED_CASES = ["2025-04-21_to_2026-02-09/5k", "2025-04-21_to_2026-02-09/100k"]
GUARDED_FUNCTIONS = ["pipeline", "forward"]
# Enough repetitions that the per-call figure is exact to well under the tolerance, few enough that
# the guard stays under a minute under valgrind.
GUARD_REPEAT = {"5k": 100, "100k": 10}
DEFAULT_TOLERANCE = 0.10


def rustc_version():
    return subprocess.run(["rustc", "--version"], capture_output=True, text=True,
                          check=True).stdout.strip()


def guarded_counts(binary):
    counts = {}
    for case in GUARDED_CASES:
        repeat = GUARD_REPEAT[case.rsplit("/", 1)[1]]
        base = irefs(binary, f"{case}/floor:0")
        for function in GUARDED_FUNCTIONS:
            per_call = (irefs(binary, f"{case}/{function}:{repeat}") - base) / repeat
            counts[f"{case}/{function}"] = round(per_call)
    return counts


def record(path, binary):
    counts = guarded_counts(binary)
    baseline = {"rustc": rustc_version(), "tolerance": DEFAULT_TOLERANCE, "instructions": counts}
    pathlib.Path(path).write_text(json.dumps(baseline, indent=2) + "\n")
    for key, value in counts.items():
        print(f"{key}: {value:,} instructions/call")
    print(f"baseline written to {path}")


def check(path, binary):
    baseline = json.loads(pathlib.Path(path).read_text())
    tolerance = baseline.get("tolerance", DEFAULT_TOLERANCE)
    counts = guarded_counts(binary)
    compiler = rustc_version()
    if compiler != baseline.get("rustc"):
        print(f"note: baseline recorded with {baseline.get('rustc')}, this is {compiler}: "
              "a compiler change moves counts too (re-record if it alone fails the guard)")
    failed = []
    for key, expected in baseline["instructions"].items():
        got = counts.get(key)
        if got is None:
            failed.append(f"{key}: not measured")
            continue
        change = got / expected - 1
        verdict = "ok"
        if change > tolerance:
            verdict = "REGRESSION"
            failed.append(f"{key}: {got:,} instructions/call, {change:+.1%} over the baseline {expected:,}")
        elif change < -tolerance:
            verdict = "faster: re-record the baseline (--record) to keep the gain"
        print(f"{key}: {got:,} vs {expected:,} ({change:+.1%}, tolerance +{tolerance:.0%}) {verdict}")
    if failed:
        print("instruction-count guard failed:\n  " + "\n  ".join(failed), file=sys.stderr)
        raise SystemExit(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", metavar="BASELINE", help="compare with a baseline (exit 1 on regression)")
    parser.add_argument("--record", metavar="BASELINE", help="write a baseline from this build")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--cases", default="2025-04-21_to_2026-02-09/5k,2025-04-21_to_2026-02-09/100k")
    parser.add_argument("--functions", default=",".join(FUNCTIONS))
    args = parser.parse_args()
    binary = bench_binary()
    if args.check:
        return check(args.check, binary)
    if args.record:
        return record(args.record, binary)
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
