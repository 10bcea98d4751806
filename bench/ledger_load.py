"""The ledger mode of bench/load.py (`bench/load.py --ledger off,file,redis`).

The same translating route as the proxy benchmark (the 5 KB 2025-04-21 `processor_run.processed`
translated to 2026-02-09, shipped mappings and schemas, delivered to bench/downstream.rs), with the
route's policy as shipped in config.toml (2025-04-21 forward, 2026-02-09 ack), under three ledger
configurations:

  off    [ledger] backend = "off"
  file   no [ledger] table at all: the shipped default (backend "file", `hookshift.ledger` beside the
         configuration file, here a fresh temporary folder on the machine's disk)
  redis  backend = "redis" on a redis-server this script starts on a free port, no persistence
         (--save "" --appendonly no)

Every request is its own pre-signed event (bench/presign.py: its own eventId and run id), so the
ledger records, claims and marks each one as in production; the same request files go to every
configuration. Each measurement starts a new hookshift on an empty ledger (the file deleted, Redis
flushed), warms it with its own events, then measures.

1. Throughput: wrk (one thread, bench/unique.lua: each request sent once) at --connections for
   --duration seconds, --rounds interleaved rounds; median req/s per configuration and the median of
   the per-round ratios file/off and redis/off. Every answer must be 2xx (non-2xx counted), and the
   server's own count of delivered events must equal wrk's 2xx count less what was in flight at the
   end (checked from /metrics).
2. Latency at --rate-fraction of the ledger-off peak: bench/rate_load.rs (open loop, latency from the
   scheduled send time) sending unique pre-signed requests; added p99 = p99(configuration) -
   p99(direct to the downstream) at the same rate, median over the rounds.
"""

import json
import math
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
import time
import urllib.request

import load
import presign
from load import OLD, NEW, PORTS, RELEASE, ROOT, INBOUND_SECRET, HANDLER_SECRET, log

BACKENDS = ("off", "file", "redis")
# Every process started, so that an error or SIGTERM leaves none behind.
RUNNING = []
HOOK_PATH = f"/webhooks/extend?api_version={OLD}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A redis-server without persistence on a free port."""

    def __init__(self, tmp):
        binary = shutil.which("redis-server")
        if not binary:
            raise SystemExit("redis-server is missing (apt-get install -y redis-server)")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        RUNNING.append(self.proc)
        load.wait_port(self.port, self.proc)

    def url(self):
        return f"redis://127.0.0.1:{self.port}/"

    def command(self, *words):
        request = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.sendall(request.encode())
            return s.recv(4096).decode()

    def flush(self):
        answer = self.command("FLUSHALL")
        if not answer.startswith("+OK"):
            raise SystemExit(f"redis FLUSHALL answered {answer!r}")

    def memory_bytes(self):
        info = self.command("INFO", "memory")
        return int(re.search(r"used_memory:(\d+)", info).group(1))


def ledger_table(backend, redis):
    if backend == "off":
        return '[ledger]\nbackend = "off"\n'
    if backend == "redis":
        return f'[ledger]\nbackend = "redis"\nurl = "{redis.url()}"\n'
    return "# No [ledger] table: the shipped default (a file beside this configuration).\n"


def write_config(folder, backend, redis, server_extra):
    folder.mkdir(parents=True, exist_ok=True)
    config = f"""
[server]
listen = "127.0.0.1:{PORTS['hookshift']}"
admin_listen = "127.0.0.1:{PORTS['admin']}"
max_body_bytes = 26214400
reload_poll_ms = 0
{server_extra}

[mappings]
dir = "{ROOT / 'mappings'}"

[schemas]
dir = "{ROOT / 'schemas'}"

{ledger_table(backend, redis)}
[[routes]]
name = "bench"
path = "/webhooks/extend"
provider = "extend"
inbound_secrets = ["{INBOUND_SECRET}"]
timestamp_tolerance_secs = 3600
default_version = "{OLD}"

[routes.downstream]
url = "http://127.0.0.1:{PORTS['downstream']}/webhooks"
version = "{NEW}"
secret = "{HANDLER_SECRET}"
timeout_ms = 25000

[routes.policy]
"{OLD}" = "forward"
"{NEW}" = "ack"
"""
    path = folder / "config.toml"
    path.write_text(config)
    return path


def ensure_free(*ports):
    """hookshift binds its listener with SO_REUSEPORT: a process left on the port would silently
    share the load, so a busy port stops the benchmark."""
    for port in ports:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                raise SystemExit(f"127.0.0.1:{port} is taken by another process: stop it first")


def start_hookshift(config, rust_log, log_mode="w"):
    ensure_free(PORTS["hookshift"], PORTS["admin"])
    proc = subprocess.Popen(
        [RELEASE / "hookshift", "serve", "--config", config], stdout=subprocess.DEVNULL,
        stderr=open(config.parent / "hookshift.log", log_mode), env=dict(os.environ, RUST_LOG=rust_log))
    RUNNING.append(proc)
    load.wait_port(PORTS["hookshift"], proc)
    load.wait_port(PORTS["admin"], proc)
    if proc.poll() is not None:
        raise SystemExit(f"hookshift exited: {(config.parent / 'hookshift.log').read_text()[-2000:]}")
    return proc


def stop_all():
    """Ends every process this benchmark started that still runs."""
    for proc in reversed(RUNNING):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    RUNNING.clear()


class Server:
    """One hookshift process on an empty ledger."""

    def __init__(self, config, backend, redis, rust_log):
        self.folder = config.parent
        for stale in self.folder.glob("hookshift.ledger*"):
            stale.unlink()
        if backend == "redis":
            redis.flush()
        self.proc = start_hookshift(config, rust_log)

    def outcomes(self):
        """hookshift_events_total summed per outcome."""
        page = urllib.request.urlopen(f"http://127.0.0.1:{PORTS['admin']}/metrics").read().decode()
        totals = {}
        for line in page.splitlines():
            m = re.match(r'hookshift_events_total\{([^}]*)\} (\S+)', line)
            if m:
                outcome = re.search(r'outcome="([^"]*)"', m.group(1)).group(1)
                totals[outcome] = totals.get(outcome, 0) + float(m.group(2))
        errors = sum(float(v) for v in re.findall(r'^hookshift_ledger_errors_total\{[^}]*\} (\S+)', page, re.M))
        # The background scan and output check skip events when behind: a faster configuration
        # skips more of them, which its CPU per request leaves out.
        for name in ("drift_scans_skipped", "output_checks_skipped"):
            totals[name] = sum(float(v) for v in re.findall(
                rf'^hookshift_{name}_total\{{[^}}]*\}} (\S+)', page, re.M))
        return {k: int(v) for k, v in totals.items() if v}, int(errors)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return sum(f.stat().st_size for f in self.folder.glob("hookshift.ledger*"))


def run_wrk(prefix, connections, duration):
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s",
         "-s", str(ROOT / "bench/unique.lua"), f"http://127.0.0.1:{PORTS['hookshift']}{HOOK_PATH}"],
        env=dict(os.environ, BENCH_REQUESTS=str(prefix)), capture_output=True, text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
              "requests": int(re.search(r"(\d+) requests in", out).group(1))}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        result[f"p{pct}"] = load.parse_duration_ms(m.group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["non2xx"] = int(non2xx.group(1)) if non2xx else 0
    result["socket_errors"] = sum(int(g) for g in sock.groups()) if sock else 0
    threads = re.findall(r"unique thread \d+: sent (\d+) of (\d+), past the end (\d+)", out)
    result["sent"] = sum(int(t[0]) for t in threads)
    if any(int(t[2]) for t in threads):
        raise SystemExit(f"wrk ran out of pre-signed requests ({threads}); raise --ledger-max-rate")
    return result


def generate(tmp, args):
    """The request files: warm-up and measured sets for wrk, one for the open-loop runs (written
    later, once the rate is known)."""
    text = presign.template()
    host = f"127.0.0.1:{PORTS['hookshift']}"
    t0 = time.time()
    measured = math.ceil(args.ledger_max_rate * (args.duration + 1))
    warm = math.ceil(args.ledger_max_rate * (args.ledger_warmup + 1))
    presign.write(tmp / "measured-0.req", "m", 0, measured, INBOUND_SECRET, HOOK_PATH, host, text)
    presign.write(tmp / "warm-0.req", "w", 0, warm, INBOUND_SECRET, HOOK_PATH, host, text)
    log(f"pre-signed {measured} + {warm} unique events in {time.time() - t0:.1f} s")


def throughput(tmp, configs, redis, args):
    rounds = {}
    for rnd in range(args.rounds):
        for backend, config in configs.items():
            server = Server(config, backend, redis, args.rust_log)
            run_wrk(tmp / "warm", args.connections_ledger, args.ledger_warmup)
            before, _ = server.outcomes()
            cpu0 = load.cpu_seconds(server.proc.pid)
            r = run_wrk(tmp / "measured", args.connections_ledger, args.duration)
            cpu = load.cpu_seconds(server.proc.pid) - cpu0
            time.sleep(0.5)  # let the requests in flight at wrk's end finish
            after, ledger_errors = server.outcomes()
            r["outcomes"] = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}
            r["entries"] = after.get("delivered", 0)  # warm-up and measured: one entry per event
            r["ledger_errors"] = ledger_errors
            r["cpu_us"] = cpu / max(r["requests"], 1) * 1e6
            r["ledger_bytes"] = server.stop()
            if redis and backend == "redis":
                r["ledger_bytes"] = redis.memory_bytes()
            delivered = r["outcomes"].get("delivered", 0)
            # wrk counts answers, the server counts events it delivered, including those wrk left
            # in flight at its end (up to one per connection).
            if r["non2xx"] or not r["requests"] - r["non2xx"] <= delivered <= r["sent"]:
                log(f"WARNING {backend}: wrk {r['requests']} answers ({r['non2xx']} non-2xx), "
                    f"sent {r['sent']}; server outcomes {r['outcomes']}")
            rounds.setdefault(backend, []).append(r)
            log(f"round {rnd + 1} ledger {backend}: {r}")
    return rounds


def report_throughput(rounds, args, load_before, out):
    out(f"Median of {args.rounds} round(s); 1-minute load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after (2 = both cores busy).")
    out()
    out("| ledger | req/s | vs off | p50 ms | p99 ms | server CPU µs/req | non-2xx | outcomes (last round) | ledger bytes per event (last round) |")
    out("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    medians = {}
    for backend, runs in rounds.items():
        med = {f: statistics.median(r[f] for r in runs) for f in ("rps", "p50", "p99", "cpu_us")}
        medians[backend] = med
        ratio = "-"
        if backend != "off" and "off" in rounds:
            ratio = f"{statistics.median(r['rps'] / o['rps'] for r, o in zip(runs, rounds['off'])):.2f}x"
        last = runs[-1]
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(last["outcomes"].items()))
        if last["ledger_errors"]:
            outcomes += f"; ledger errors {last['ledger_errors']}"
        size = (f"{last['ledger_bytes'] / max(last['entries'], 1):,.0f} ({last['ledger_bytes']:,} / "
                f"{last['entries']:,})" if backend != "off" else "-")
        out(f"| {backend} | {med['rps']:.0f} | {ratio} | {med['p50']:.2f} | {med['p99']:.2f} | "
            f"{med['cpu_us']:.0f} | {sum(r['non2xx'] + r['socket_errors'] for r in runs)} | {outcomes} | {size} |")
    out()
    per_round = " ".join(f"{b}: " + "/".join(f"{r['rps']:.0f}" for r in runs) for b, runs in rounds.items())
    out(f"Per round req/s: {per_round}. Ledger bytes per event: the file and its -wal/-shm after a "
        "graceful stop (file), Redis used_memory (redis; an empty redis-server uses about 1 MB), divided "
        "by the events the run delivered, warm-up included (small runs: fixed costs weigh in; "
        "bench/ledger_size.py measures the size properly).")
    out()
    return medians


def latency(tmp, configs, redis, medians, args, out):
    """Open loop at a fraction of the ledger-off peak. A configuration whose own peak is under
    that rate is not run: its queue would only grow (the p99 is the run's length), and draining it
    would take minutes."""
    peak = medians.get("off", next(iter(medians.values())))["rps"]
    rate = int(peak * args.rate_fraction)
    saturated = {b: m["rps"] for b, m in medians.items() if m["rps"] < rate}
    configs = {b: c for b, c in configs.items() if b not in saturated}
    needed = math.ceil(rate * (args.duration + 2)) + 1
    host = f"127.0.0.1:{PORTS['hookshift']}"
    presign.write(tmp / "rate.req", "r", 0, needed, INBOUND_SECRET, HOOK_PATH, host)
    runs = {}
    for rnd in range(args.rounds):
        for name in ("direct",) + tuple(configs):
            url = (f"http://127.0.0.1:{PORTS['downstream']}/webhooks" if name == "direct"
                   else f"http://127.0.0.1:{PORTS['hookshift']}{HOOK_PATH}")
            server = Server(configs[name], name, redis, args.rust_log) if name != "direct" else None
            result = subprocess.run(
                [RELEASE / "examples/bench_rate_load", "--url", url, "--requests", tmp / "rate.req",
                 "--rate", str(rate), "--duration", str(args.duration), "--warmup", "2",
                 "--connections", str(args.rate_connections)],
                capture_output=True, text=True, check=True).stdout
            r = json.loads(result.strip().splitlines()[-1])
            if server:
                r["outcomes"], _ = server.outcomes()
                server.stop()
            runs.setdefault(name, []).append(r)
            log(f"round {rnd + 1} rate {rate}/s {name}: {r}")
    out(f"Open loop at {args.rate_fraction:g} x the ledger-off peak = {rate} req/s, {args.rate_connections} "
        f"connections (bench/rate_load.rs --requests: unique pre-signed events; latency from the "
        f"scheduled send time), {args.duration} s after 2 s of warm-up, median of {args.rounds} "
        f"round(s); load average now {os.getloadavg()[0]:.1f}:")
    out()
    out("| ledger | achieved req/s | p50 ms | p99 ms | p99.9 ms | service p99 ms | added p99 vs direct ms | errors | late sends |")
    out("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, rs in runs.items():
        med = {f: statistics.median(r[f] for r in rs)
               for f in ("achieved", "p50_ms", "p99_ms", "p999_ms", "service_p99_ms")}
        added = "-" if name == "direct" else "{:+.2f}".format(statistics.median(
            r["p99_ms"] - d["p99_ms"] for r, d in zip(rs, runs["direct"])))
        out(f"| {name} | {med['achieved']:.0f} | {med['p50_ms']:.2f} | {med['p99_ms']:.2f} | "
            f"{med['p999_ms']:.2f} | {med['service_p99_ms']:.2f} | {added} | "
            f"{sum(r['errors'] for r in rs)} | {sum(r['pacer_late'] for r in rs)} |")
    for backend, rps in saturated.items():
        out(f"| {backend} | not run: its peak, {rps:.0f} req/s, is under the rate | | | | | | | |")
    out()
    out("Per round p99 ms: " + " ".join(
        f"{n}: " + "/".join(f"{r['p99_ms']:.1f}" for r in rs) for n, rs in runs.items()) + ".")
    out()


def main(args):
    backends = args.ledger.split(",")
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise SystemExit(f"--ledger takes {','.join(BACKENDS)}; not {','.join(sorted(unknown))}")
    for tool in ("wrk", "cargo"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing (apt-get install -y wrk redis-server)")
    if not args.skip_build:
        load.build()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="hookshift-ledger-bench-"))
    lines = []

    def out(line=""):
        print(line, flush=True)
        lines.append(line)

    redis = None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    try:
        ensure_free(PORTS["downstream"])
        downstream = subprocess.Popen(
            [RELEASE / "examples/bench_downstream", f"127.0.0.1:{PORTS['downstream']}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        RUNNING.append(downstream)
        load.wait_port(PORTS["downstream"], downstream)
        redis = Redis(tmp) if "redis" in backends else None
        configs = {b: write_config(tmp / b, b, redis, args.server.replace("\\n", "\n")) for b in backends}
        generate(tmp, args)
        machine = subprocess.run(["uname", "-srm"], capture_output=True, text=True).stdout.strip()
        out(f"## Ledger load benchmark ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, {machine})")
        out()
        out(f"Unique pre-signed events: {presign.EVENT.relative_to(ROOT)} ({presign.EVENT.stat().st_size} bytes) "
            f"with its own eventId and run id per request, API {OLD} translated to {NEW} (shipped mappings "
            f"and schemas), policy {OLD} forward / {NEW} ack; wrk -t1 -c{args.connections_ledger} "
            f"(bench/unique.lua), {args.ledger_warmup} s warm-up and {args.duration} s per run, a new "
            f"hookshift on an empty ledger per run. hookshift: RUST_LOG={args.rust_log}, [server] extras: "
            f"{args.server or 'none'}. Ledgers: " + ", ".join(
                {"off": "off", "file": "file (shipped default: no [ledger] table)",
                 "redis": "redis (redis-server, no persistence)"}[b] for b in backends) + ".")
        out()
        load_before = os.getloadavg()[0]
        rounds = throughput(tmp, configs, redis, args)
        medians = report_throughput(rounds, args, load_before, out)
        if args.rate_fraction > 0:
            latency(tmp, configs, redis, medians, args, out)
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.markdown:
        pathlib.Path(args.markdown).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit("run it as bench/load.py --ledger off,file,redis")
