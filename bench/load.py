#!/usr/bin/env python3
"""Load benchmark of hookshift beside a bare hyper proxy and nginx, in one run, on loopback.

Every target delivers to the same fast downstream (bench/downstream.rs) and gets the same signed 5 KB
event (bench/events/, a realistic EXTRACT run):

  direct              wrk -> downstream
  bare                wrk -> bare hyper pass-through proxy (bench/bare_proxy.rs) -> downstream
  nginx               wrk -> nginx proxy_pass (keep-alive upstream) -> downstream
  hookshift-translate wrk -> hookshift (verify, parse, translate, serialize, re-sign) -> downstream
  hookshift-forward   wrk -> hookshift (verify, parse, re-sign; version already the handler's) -> downstream

1. Throughput: wrk (closed loop) at each --connections count for --duration seconds, --rounds times
   (targets interleaved; medians): requests/s, p50, p99, ratio to the bare proxy, and the proxy's
   CPU time per request (utime+stime from /proc).
2. Latency at half of peak: bench/rate_load.rs (open loop, fixed rate, latency from the scheduled
   send time) at --rate-fraction x hookshift's peak requests/s, through every target and direct;
   added p99 = p99(target) - p99(direct) at the same rate.
3. Memory: VmRSS/VmHWM of every server sampled from /proc during the runs; with --soak SECONDS,
   hookshift translating under wrk for that long (300 = 5 minutes) with RSS sampled every second
   and the peak per minute printed.

The bench configuration sets timestamp_tolerance_secs = 3600 so that a body signed once at the start
stays valid through long runs (signatures are still fully verified). hookshift runs with its default
logging (RUST_LOG=info, one line per request) written to /dev/null.

With --ledger off,file,redis it measures the ledger instead (bench/ledger_load.py): unique pre-signed
events, one hookshift per configuration and run on an empty ledger, at the first --connections count.

Usage: bench/load.py [--duration 10] [--rounds 3] [--connections 32,64] [--soak 0]
                     [--direction auto] [--skip-build] [--markdown FILE]
       bench/load.py --ledger off,file,redis [--connections 32] [--duration 6] [--rounds 3]
Needs wrk and nginx (Debian: apt-get install -y wrk nginx), redis-server for --ledger redis, and cargo.
"""

import argparse
import hashlib
import hmac
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
RELEASE = ROOT / "target/release"
PORTS = {"downstream": 18000, "bare": 18001, "nginx": 18002, "hookshift": 18003, "admin": 18004,
         "baseline": 18005, "baseline-admin": 18006}
INBOUND_SECRET = "wss_bench_inbound"
HANDLER_SECRET = "wss_bench_handler"
OLD, NEW = "2025-04-21", "2026-02-09"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ processes

def wait_port(port, proc, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process for port {port} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def tree_pids(pid):
    """pid and its descendants (nginx workers)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return pids


def cpu_seconds(pid):
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    """(VmRSS, VmHWM) summed over the process tree, KiB."""
    rss = hwm = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        hwm += int(line.split()[1])
        except OSError:
            pass
    return rss, hwm


class RssSampler(threading.Thread):
    """Samples the RSS of named processes every `period` seconds."""

    def __init__(self, procs, period=0.5):
        super().__init__(daemon=True)
        self.procs, self.period = procs, period
        self.samples = {name: [] for name in procs}  # name -> [(t, rss_kib)]
        self.stop = threading.Event()

    def run(self):
        start = time.time()
        while not self.stop.wait(self.period):
            for name, proc in self.procs.items():
                rss, _ = rss_kib(proc.pid)
                if rss:
                    self.samples[name].append((time.time() - start, rss))


# ---------------------------------------------------------------------------------------------- setup

def build():
    log("building (release): hookshift, bench_downstream, bench_bare_proxy, bench_rate_load ...")
    subprocess.run(
        ["cargo", "build", "--release", "--bin", "hookshift", "--example", "bench_downstream",
         "--example", "bench_bare_proxy", "--example", "bench_rate_load"],
        cwd=ROOT, check=True)


def hookshift_config(tmp, downstream_version, server_extra="", name="hookshift"):
    admin = "admin" if name == "hookshift" else f"{name}-admin"
    config = f"""
[server]
listen = "127.0.0.1:{PORTS[name]}"
admin_listen = "127.0.0.1:{PORTS[admin]}"
max_body_bytes = 26214400
reload_poll_ms = 0
{server_extra}

[mappings]
dir = "{ROOT / 'mappings'}"

# As shipped: the schemas beside config.toml, so translated events get the output check
# (validate_output = "observe") and the carried-field scan.
[schemas]
dir = "{ROOT / 'schemas'}"

# A proxy's cost is measured: the same signed body is sent again and again, which the ledger would
# rightly answer as duplicates (bench/README.md measures the ledger on its own).
[ledger]
backend = "off"

[[routes]]
name = "bench"
path = "/webhooks/extend"
provider = "extend"
inbound_secrets = ["{INBOUND_SECRET}"]
timestamp_tolerance_secs = 3600
default_version = "{OLD if downstream_version == NEW else NEW}"
unmapped = "reject"

[routes.downstream]
url = "http://127.0.0.1:{PORTS['downstream']}/webhooks"
version = "{downstream_version}"
secret = "{HANDLER_SECRET}"
timeout_ms = 25000

[routes.policy]
"{OLD}" = "forward"
"{NEW}" = "forward"
"""
    path = tmp / f"{name}-{downstream_version}.toml"
    path.write_text(config)
    return path


def nginx_config(tmp):
    prefix = tmp / "nginx"
    prefix.mkdir()
    conf = prefix / "nginx.conf"
    conf.write_text(f"""
worker_processes 2;
pid {prefix}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream downstream {{
        server 127.0.0.1:{PORTS['downstream']};
        keepalive 256;
    }}
    server {{
        listen 127.0.0.1:{PORTS['nginx']} reuseport backlog=4096;
        client_max_body_size 26m;
        client_body_buffer_size 128k;
        keepalive_requests 1000000;
        location / {{
            proxy_pass http://downstream/webhooks;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
""")
    return prefix, conf


def choose_direction(direction, tmp):
    """up: 2025-04-21 processor_run -> 2026-02-09 (the default configuration's direction);
    down: 2026-02-09 extract_run -> 2025-04-21. auto: up when hookshift check accepts it."""
    if direction == "auto":
        config = hookshift_config(tmp, NEW)
        check = subprocess.run([RELEASE / "hookshift", "check", "--config", config],
                               capture_output=True, text=True)
        translate = subprocess.run(
            [RELEASE / "hookshift", "translate", "--from", OLD, "--to", NEW, "--mappings",
             ROOT / "mappings", "--compact", ROOT / "bench/events/processor_run_5k.json"],
            capture_output=True, text=True)
        direction = "up" if check.returncode == 0 and translate.returncode == 0 else "down"
        if direction == "down":
            log(f"{OLD} -> {NEW} not usable here ({(check.stdout + check.stderr + translate.stderr).strip()[:300]}); "
                f"measuring {NEW} -> {OLD}")
    if direction == "up":
        return NEW, OLD, ROOT / "bench/events/processor_run_5k.json"
    return OLD, NEW, ROOT / "bench/events/extract_run_5k.json"


# ------------------------------------------------------------------------------------------ measuring

def parse_duration_ms(text):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url, body, connections, duration, env_extra):
    env = dict(os.environ, BENCH_BODY=str(body), **env_extra)
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s",
         "-s", str(ROOT / "bench/post.lua"), url],
        env=env, capture_output=True, text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}\.000%\s+(\S+)|^\s+{pct}%\s+(\S+)", out, re.M)
        result[f"p{pct}"] = parse_duration_ms(m.group(1) or m.group(2))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["errors"] = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(g) for g in sock.groups()) if sock else 0)
    result["requests"] = int(re.search(r"(\d+) requests in", out).group(1))
    return result


def run_rate(url, body, rate, duration, connections, secret):
    out = subprocess.run(
        [RELEASE / "examples/bench_rate_load", "--url", url, "--body", str(body), "--rate",
         str(rate), "--duration", str(duration), "--warmup", "2", "--connections",
         str(connections)] + (["--secret", secret] if secret else []),
        capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def sign(body_path):
    ts = str(int(time.time()))
    body = body_path.read_bytes()
    sig = hmac.new(INBOUND_SECRET.encode(), b"v0:" + ts.encode() + b":" + body,
                   hashlib.sha256).hexdigest()
    return {"BENCH_TS": ts, "BENCH_SIG": sig}


# ----------------------------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", default="32,64")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds (median reported)")
    parser.add_argument("--rate-fraction", type=float, default=0.5)
    parser.add_argument("--rate-connections", type=int, default=32)
    parser.add_argument("--soak", type=int, default=0, help="seconds of soak (300 = 5 minutes)")
    parser.add_argument("--direction", choices=["auto", "up", "down"], default="auto")
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--markdown", help="also write the tables to this file")
    parser.add_argument("--targets", default="direct,bare,nginx,hookshift-translate,hookshift-forward")
    parser.add_argument("--baseline-bin", help="another hookshift binary (e.g. of the previous commit), "
                        "measured in the same rounds as targets baseline-translate and baseline-forward")
    parser.add_argument("--baseline-server", help="[server] extras of the baseline (default: --server's)")
    parser.add_argument("--server", default="", help="extra [server] lines for hookshift, e.g. 'workers = 1'")
    parser.add_argument("--rust-log", default="info", help="RUST_LOG of hookshift (default: info, a line per request)")
    parser.add_argument("--ledger", help="ledger mode: the configurations to measure, of off,file,redis")
    parser.add_argument("--ledger-max-rate", type=int, default=25000,
                        help="ledger mode: req/s the pre-signed requests must last for (a run that "
                        "runs out of them stops the benchmark)")
    parser.add_argument("--ledger-warmup", type=int, default=1, help="ledger mode: seconds of warm-up per run")
    args = parser.parse_args()
    if args.ledger:
        import ledger_load
        args.connections_ledger = int(args.connections.split(",")[0])
        return ledger_load.main(args)
    for tool in ("wrk", "nginx", "cargo"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            raise SystemExit(f"{tool} is missing (apt-get install -y wrk nginx)")
    if not args.skip_build:
        build()
    if not (ROOT / "bench/events/processor_run_5k.json").exists():
        subprocess.run([sys.executable, ROOT / "bench/make_events.py"], check=True)

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="hookshift-bench-"))
    procs = {}
    lines = []

    def out(line=""):
        print(line, flush=True)
        lines.append(line)

    try:
        downstream_version, sent_version, body = choose_direction(args.direction, tmp)
        config = hookshift_config(tmp, downstream_version, args.server.replace("\\n", "\n"))
        devnull = subprocess.DEVNULL
        procs["downstream"] = subprocess.Popen(
            [RELEASE / "examples/bench_downstream", f"127.0.0.1:{PORTS['downstream']}"],
            stdout=devnull, stderr=devnull)
        wait_port(PORTS["downstream"], procs["downstream"])
        procs["bare"] = subprocess.Popen(
            [RELEASE / "examples/bench_bare_proxy", f"127.0.0.1:{PORTS['bare']}",
             f"http://127.0.0.1:{PORTS['downstream']}/webhooks"], stdout=devnull, stderr=devnull)
        prefix, nginx_conf = nginx_config(tmp)
        nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
        procs["nginx"] = subprocess.Popen(
            [nginx_bin, "-p", str(prefix), "-c", str(nginx_conf), "-g", "daemon off;"],
            stdout=devnull, stderr=open(tmp / "nginx.log", "w"))
        procs["hookshift"] = subprocess.Popen(
            [RELEASE / "hookshift", "serve", "--config", config],
            stdout=devnull, stderr=devnull, env=dict(os.environ, RUST_LOG=args.rust_log))
        if args.baseline_bin:
            baseline_server = args.server if args.baseline_server is None else args.baseline_server
            baseline_config = hookshift_config(tmp, downstream_version,
                                               baseline_server.replace("\\n", "\n"), name="baseline")
            procs["baseline"] = subprocess.Popen(
                [args.baseline_bin, "serve", "--config", baseline_config],
                stdout=devnull, stderr=devnull, env=dict(os.environ, RUST_LOG=args.rust_log))
        for name in ("bare", "nginx", "hookshift") + (("baseline",) if args.baseline_bin else ()):
            wait_port(PORTS[name], procs[name])

        base = "http://127.0.0.1:{}"
        hook = base.format(PORTS["hookshift"]) + "/webhooks/extend?api_version="
        targets = {
            "direct": (base.format(PORTS["downstream"]) + "/webhooks", "downstream"),
            "bare": (base.format(PORTS["bare"]) + "/webhooks", "bare"),
            "nginx": (base.format(PORTS["nginx"]) + "/webhooks", "nginx"),
            "hookshift-translate": (hook + sent_version, "hookshift"),
            "hookshift-forward": (hook + downstream_version, "hookshift"),
        }
        if args.baseline_bin:
            base_hook = base.format(PORTS["baseline"]) + "/webhooks/extend?api_version="
            targets["baseline-translate"] = (base_hook + sent_version, "baseline")
            targets["baseline-forward"] = (base_hook + downstream_version, "baseline")
        wanted = args.targets.split(",") + (["baseline-translate", "baseline-forward"]
                                            if args.baseline_bin else [])
        targets = {k: v for k, v in targets.items() if k in wanted}
        sampler = RssSampler({k: procs[k] for k in ("downstream", "bare", "nginx", "hookshift")})
        sampler.start()
        headers = sign(body)

        # Every target must answer 2xx before it is measured.
        for name, (url, _) in targets.items():
            check = run_wrk(url, body, 2, 1, headers)
            if check["errors"] or not check["requests"]:
                raise SystemExit(f"{name} ({url}) does not answer 2xx: {check}")

        machine = subprocess.run(["uname", "-srm"], capture_output=True, text=True).stdout.strip()
        out(f"## Load benchmark ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, {machine})")
        out()
        out(f"Body: {body.relative_to(ROOT)} ({body.stat().st_size} bytes), API {sent_version}; "
            f"hookshift-translate translates it to {downstream_version}, hookshift-forward receives the same "
            f"bytes as API {downstream_version} (no translation). wrk -t2, {args.duration} s per run, "
            f"everything on one machine. hookshift: RUST_LOG={args.rust_log}, [server] extras: "
            f"{args.server or 'none'}."
            + (f" baseline-*: the same through {pathlib.Path(args.baseline_bin).name}"
               f" ([server] extras: {args.baseline_server if args.baseline_server is not None else args.server or 'none'})."
               if args.baseline_bin else ""))
        out()
        # Rounds: every target once per round, back to back, so that a neighbour's load hits the
        # targets of a round alike; each figure is the median over the rounds, and each ratio the
        # median of the per-round ratios to nginx (and the bare proxy) of the same round.
        rounds = {}
        load_before = os.getloadavg()[0]
        for rnd in range(args.rounds):
            for conns in [int(c) for c in args.connections.split(",")]:
                for name, (url, proc_name) in targets.items():
                    run_wrk(url, body, conns, 2, headers)  # warm-up
                    pid = procs[proc_name].pid
                    cpu0 = cpu_seconds(pid)
                    r = run_wrk(url, body, conns, args.duration, headers)
                    r["cpu_us"] = (cpu_seconds(pid) - cpu0) / max(r["requests"], 1) * 1e6
                    rounds.setdefault((name, conns), []).append(r)
                    log(f"round {rnd + 1} {name} c={conns}: {r}")
        load_after = os.getloadavg()[0]
        results = {}
        for key, runs in rounds.items():
            bare_runs = rounds.get(("bare", key[1]))
            results[key] = {
                field: statistics.median(r[field] for r in runs)
                for field in ("rps", "p50", "p99", "cpu_us")
            }
            results[key]["errors"] = sum(r["errors"] for r in runs)
            results[key]["ratio"] = statistics.median(
                r["rps"] / b["rps"] for r, b in zip(runs, bare_runs)) if bare_runs else None
            nginx_runs = rounds.get(("nginx", key[1]))
            results[key]["vs_nginx"] = statistics.median(
                r["rps"] / n["rps"] for r, n in zip(runs, nginx_runs)) if nginx_runs else None
        out(f"Median of {args.rounds} round(s); 1-minute load average {load_before:.1f} before, "
            f"{load_after:.1f} after (2 = both cores busy).")
        out()
        out("| target | conns | req/s | p50 ms | p99 ms | req/s vs nginx | req/s vs bare | server CPU µs/req | errors |")
        out("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for (name, conns), r in results.items():
            ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"
            vs_nginx = f"{r['vs_nginx']:.2f}" if r["vs_nginx"] is not None else "-"
            cpu = f"{r['cpu_us']:.0f}"
            out(f"| {name} | {conns} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {vs_nginx} | "
                f"{ratio} | {cpu} | {r['errors']} |")
        out()
        out("server CPU µs/req: CPU time (user+system) of the proxy's processes per request (for direct: the "
            "downstream's); the downstream and wrk use CPU on the same 2 cores besides.")
        out()

        # Open-loop latency at a fraction of hookshift's peak, in interleaved rounds like above: each
        # figure is the median over the rounds, the added p99 the median of the per-round differences
        # to direct at the same rate.
        rate_runs = {}
        scenarios = [s for s in ("hookshift-translate", "hookshift-forward") if s in targets]
        for rnd in range(args.rounds):
            for scenario in scenarios:
                peak = max(r["rps"] for (n, _), r in results.items() if n == scenario)
                rate = int(peak * args.rate_fraction)
                for name in ("direct", "bare", "nginx", scenario):
                    if name not in targets:
                        continue
                    url, _ = targets[name]
                    r = run_rate(url, body, rate, args.duration, args.rate_connections, INBOUND_SECRET)
                    rate_runs.setdefault((scenario, rate, name), []).append(r)
                    log(f"round {rnd + 1} rate {rate}/s {name}: {r}")
        if rate_runs:
            out(f"Fixed rate = {args.rate_fraction:g} x hookshift's peak req/s above, {args.rate_connections} "
                "connections, open loop (bench/rate_load.rs; latency from the scheduled send time), "
                f"{args.duration} s, median of {args.rounds} round(s); load average now "
                f"{os.getloadavg()[0]:.1f}:")
            out()
            out("| rate (req/s) | target | achieved req/s | p50 ms | p99 ms | p99.9 ms | added p99 vs direct ms | errors |")
            out("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
            for (scenario, rate, name), runs in rate_runs.items():
                direct = rate_runs.get((scenario, rate, "direct"))
                med = {f: statistics.median(r[f] for r in runs)
                       for f in ("achieved", "p50_ms", "p99_ms", "p999_ms")}
                added = "-" if name == "direct" or not direct else "{:+.2f}".format(statistics.median(
                    r["p99_ms"] - d["p99_ms"] for r, d in zip(runs, direct)))
                out(f"| {rate} | {name} | {med['achieved']:.0f} | {med['p50_ms']:.2f} | {med['p99_ms']:.2f} | "
                    f"{med['p999_ms']:.2f} | {added} | {sum(r['errors'] for r in runs)} |")
            out()

        if args.soak:
            url, _ = targets.get("hookshift-translate", (hook + sent_version, "hookshift"))
            soak_start = len(sampler.samples["hookshift"])
            t0 = time.time()
            log(f"soak: hookshift-translate, 64 connections, {args.soak} s ...")
            r = run_wrk(url, body, 64, args.soak, headers)
            soak = [(t, rss) for t, rss in sampler.samples["hookshift"][soak_start:]]
            out(f"Soak: hookshift-translate under wrk -c64 for {args.soak} s: {r['rps']:.0f} req/s, "
                f"{r['requests']} requests, {r['errors']} errors, p99 {r['p99']:.2f} ms. "
                "hookshift RSS (MiB), peak per minute:")
            out()
            out("| minute | peak RSS MiB | last RSS MiB |")
            out("| ---: | ---: | ---: |")
            base_t = soak[0][0] if soak else 0
            minutes = {}
            for t, rss in soak:
                minutes.setdefault(int((t - base_t) // 60), []).append(rss)
            for minute, values in sorted(minutes.items()):
                out(f"| {minute + 1} | {max(values) / 1024:.1f} | {values[-1] / 1024:.1f} |")
            if len(minutes) >= 2:
                first, last = max(minutes[0]), max(minutes[max(minutes)])
                out()
                out(f"Growth of peak RSS, first minute -> last minute: {(last - first) / 1024:+.1f} MiB "
                    f"({(last - first) / first * 100:+.1f}%) over {time.time() - t0:.0f} s.")
            out()

        sampler.stop.set()
        sampler.join()
        out("Peak RSS over the whole run (VmHWM, MiB): " + ", ".join(
            f"{name} {rss_kib(procs[name].pid)[1] / 1024:.1f}"
            for name in ("downstream", "bare", "nginx", "hookshift")) + " (nginx: master + 2 workers).")
    finally:
        for name, proc in reversed(list(procs.items())):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM if name != "nginx" else signal.SIGQUIT)
        for proc in procs.values():
            try:
                proc.wait(timeout=35)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.markdown:
        pathlib.Path(args.markdown).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
