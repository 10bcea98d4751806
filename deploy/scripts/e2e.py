#!/usr/bin/env python3
"""End-to-end check of hookshift's metrics with a real Prometheus server (standard library only).

    python3 deploy/scripts/e2e.py --hookshift target/debug/hookshift [--prometheus /usr/bin/prometheus]

What it does, all on 127.0.0.1 with free ports, in a temporary directory removed at the end:
  1. starts a handler (an HTTP server in this process that checks hookshift's re-signed deliveries);
  2. starts hookshift with a temporary config: five routes in different migration stages;
  3. sends signed events (HMAC-SHA256 over "v0:{ts}:{body}") and bad ones, and reloads the config
     once with SIGHUP, once with an invalid file, then with a valid one again;
  4. scrapes /metrics and runs check_exprs.py on it (every dashboard and alert expression uses only
     exported metric names and labels);
  5. starts Prometheus (scrape every 1s, alerts.yml loaded), waits for the scrapes and asserts through
     /api/v1/query the per-route, per-version series with the exact expected values, that every
     dashboard expression evaluates, that every alert rule evaluates without error, and that
     HookshiftConfigReloadFailed went pending while the invalid config was refused;
  6. stops hookshift with SIGTERM (it must exit by itself) and Prometheus.
Exit status 0 only if every assertion held. Without --prometheus, step 5 is skipped (reported).
"""
import argparse
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.dirname(HERE)
REPO = os.path.dirname(DEPLOY)
sys.path.insert(0, HERE)
import check_exprs  # noqa: E402
import promql_names as pq  # noqa: E402

OLD, NEW = "2025-04-21", "2026-02-09"
INBOUND_SECRET = "e2e-inbound-secret"
HANDLER_SECRET = "e2e-handler-secret"

RESULTS = {"passed": 0, "failed": 0}


def ok(cond, what):
    if cond:
        RESULTS["passed"] += 1
        print(f"  ok    {what}")
    else:
        RESULTS["failed"] += 1
        print(f"  FAIL  {what}")
    return cond


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sign(secret, ts, body):
    return hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()


# ------------------------------------------------------------------------------------------ handler
class Handler(BaseHTTPRequestHandler):
    received = []  # (path, event dict or None, signature ok)
    lock = threading.Lock()

    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n)
        ts = self.headers.get("x-extend-request-timestamp", "")
        sig = self.headers.get("x-extend-request-signature", "")
        good = bool(ts) and hmac.compare_digest(sign(HANDLER_SECRET, ts, body), sig) and abs(time.time() - int(ts)) < 300
        try:
            event = json.loads(body)
        except ValueError:
            event = None
        with self.lock:
            Handler.received.append((self.path, event, good, body))
        self.send_response(200 if good else 401)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a):
        pass


# ------------------------------------------------------------------------------------------ HTTP
def http(method, url, body=None, headers=None, timeout=15):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_for(pred, timeout, interval=0.2):
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = pred()
            if v:
                return v
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(interval)
    return None


def post_event(base, path, version, body, secret=INBOUND_SECRET, ts=None, signature=None, headers=True):
    ts = int(time.time()) if ts is None else ts
    h = {"content-type": "application/json"}
    if headers:
        h["x-extend-request-timestamp"] = str(ts)
        h["x-extend-request-signature"] = signature or sign(secret, ts, body)
    url = f"{base}{path}?api_version={urllib.parse.quote(version)}"
    return http("POST", url, body, h)[0]


# ------------------------------------------------------------------------------------------ events
def load_event(path, fallback):
    if os.path.exists(path):
        with open(path, "rb") as f:
            return f.read(), True
    return json.dumps(fallback).encode(), False


def events(mappings):
    step = os.path.join(mappings, f"{OLD}_to_{NEW}", "golden")
    old, old_golden = load_event(os.path.join(step, "extract_processed.input.json"), {
        "eventId": "evt_1", "eventType": "processor_run.processed",
        "payload": {"object": "document_processor_run", "id": "dpr_1", "processorId": "dp_1", "type": "EXTRACT",
                    "status": "PROCESSED", "output": {"value": {}}}})
    new, new_golden = load_event(os.path.join(step, "extract_processed.output.json"), {
        "eventId": "evt_1", "eventType": "extract_run.processed",
        "payload": {"object": "extract_run", "id": "exr_1", "status": "PROCESSED", "output": {"value": {}}}})
    return old, new, old_golden and new_golden


# ------------------------------------------------------------------------------------------ config
def config_text(hook_port, admin_port, down_port, closed_port, mappings, legacy, bogus=False):
    def route(name, version, policy, url, unmapped=None):
        lines = [
            "[[routes]]",
            f'name = "{name}"',
            f'path = "/webhooks/{name}"',
            'provider = "extend"',
            'inbound_secrets = ["env:E2E_INBOUND_SECRET"]',
            "timestamp_tolerance_secs = 300",
            'version_param = "api_version"',
            f'default_version = "{OLD}"',
        ]
        if unmapped:
            lines.append(f'unmapped = "{unmapped}"')
        lines += ["[routes.downstream]", f'url = "{url}"', f'version = "{version}"',
                  'secret = "env:E2E_HANDLER_SECRET"', "timeout_ms = 5000", "[routes.policy]"]
        lines += [f'"{v}" = "{p}"' for v, p in policy.items()]
        return "\n".join(lines) + "\n"

    down = f"http://127.0.0.1:{down_port}/handler"
    text = (
        "[server]\n"
        f'listen = "127.0.0.1:{hook_port}"\n'
        f'admin_listen = "127.0.0.1:{admin_port}"\n'
        "max_body_bytes = 65536\n"
        + ("bogus_key_for_e2e = true\n" if bogus else "")
        + "\n[mappings]\n"
        f"dir = {json.dumps(mappings)}\n\n"
        # each copy below is delivered (the ledger would answer repeats of one event as duplicates)
        + "[ledger]\nbackend = \"off\"\n\n"
        # stage 2 for a new (2026-02-09) handler: old forwarded (translated), new acked
        + route("extend", NEW, {OLD: "forward", NEW: "ack"}, f"{down}/extend") + "\n"
        # stage 3: old rejected (the sender retries), new forwarded unchanged
        + route("stage3", NEW, {OLD: "reject", NEW: "forward"}, f"{down}/stage3") + "\n"
        # bad input, and a handler that refuses connections
        + route("noisy", NEW, {OLD: "forward", NEW: "forward"}, f"http://127.0.0.1:{closed_port}/nobody") + "\n"
        # an event type no mapping covers
        + route("unmapped", NEW, {OLD: "forward", NEW: "forward"}, f"{down}/unmapped", unmapped="ack")
    )
    if legacy:
        # a legacy 2025-04-21 handler fed by the new endpoint
        text += "\n" + route("legacy", OLD, {NEW: "forward", OLD: "forward"}, f"{down}/legacy")
    return text


# ------------------------------------------------------------------------------------------ prometheus
class Prom:
    def __init__(self, binary, tmp, admin_port, rules):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cfg = os.path.join(tmp, "prometheus.yml")
        # the rules as shipped, but every group evaluated each second so the test need not wait a minute
        with open(rules) as f:
            text = f.read().replace("interval: 1m", "interval: 1s")
        with open(os.path.join(tmp, "alerts.yml"), "w") as f:
            f.write(text)
        with open(cfg, "w") as f:
            f.write(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                "rule_files:\n  - alerts.yml\n"
                "scrape_configs:\n  - job_name: hookshift\n    static_configs:\n"
                f"      - targets: ['127.0.0.1:{admin_port}']\n")
        self.log = open(os.path.join(tmp, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={cfg}", f"--storage.tsdb.path={os.path.join(tmp, 'tsdb')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def api(self, path, **params):
        url = f"{self.base}/api/v1/{path}?" + urllib.parse.urlencode(params)
        status, body = http("GET", url)
        data = json.loads(body)
        if data.get("status") != "success":
            raise ValueError(f"{path} {params}: {data.get('errorType')}: {data.get('error')}")
        return data["data"]

    def query(self, q):
        """-> {tuple of (label, value) pairs without job/instance: float}"""
        out = {}
        for s in self.api("query", query=q)["result"]:
            key = tuple(sorted((k, v) for k, v in s["metric"].items() if k not in ("job", "instance")))
            out[key] = float(s["value"][1])
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def key(**labels):
    return tuple(sorted(labels.items()))


# ------------------------------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hookshift", required=True, help="path of the hookshift binary")
    ap.add_argument("--prometheus", default=shutil.which("prometheus"), help="path of the prometheus binary")
    ap.add_argument("--mappings", default=os.path.join(REPO, "mappings"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="hookshift-e2e-")
    procs = []
    servers = []
    prom = None

    def cleanup(*_):
        if prom:
            prom.stop()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for s in servers:
            s.shutdown()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    def on_signal(signum, _frame):
        cleanup()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    hook_log_path = os.path.join(tmp, "hookshift.log")
    try:
        hook_port, admin_port, closed_port = free_port(), free_port(), free_port()
        handler = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        servers.append(handler)
        threading.Thread(target=handler.serve_forever, daemon=True).start()
        down_port = handler.server_address[1]

        mappings = os.path.abspath(args.mappings)
        legacy = os.path.isdir(os.path.join(mappings, f"{NEW}_to_{OLD}"))
        old_body, new_body, golden = events(mappings)
        print(f"events: {'golden files of ' + OLD + '_to_' + NEW if golden else 'built-in samples (golden files missing)'}"
              f"; legacy route {'on' if legacy else 'off (no ' + NEW + '_to_' + OLD + ' mappings)'}")
        cfg_path = os.path.join(tmp, "config.toml")

        def write_config(bogus=False):
            with open(cfg_path + ".tmp", "w") as f:
                f.write(config_text(hook_port, admin_port, down_port, closed_port, mappings, legacy, bogus))
            os.replace(cfg_path + ".tmp", cfg_path)
        write_config()

        env = dict(os.environ, E2E_INBOUND_SECRET=INBOUND_SECRET, E2E_HANDLER_SECRET=HANDLER_SECRET,
                   RUST_LOG=os.environ.get("RUST_LOG", "info"))
        env = {k: v for k, v in env.items() if not k.startswith("HOOKSHIFT__")}
        hook_log = open(hook_log_path, "wb")
        hook = subprocess.Popen([os.path.abspath(args.hookshift), "serve", "--config", cfg_path], cwd=tmp, env=env,
                                stdout=hook_log, stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(hook)
        admin = f"http://127.0.0.1:{admin_port}"
        base = f"http://127.0.0.1:{hook_port}"

        print("hookshift:")
        ready = wait_for(lambda: http("GET", admin + "/readyz", timeout=2)[0] == 200 or hook.poll() is not None, 60)
        if not ok(ready and hook.poll() is None, "starts and answers 200 on /readyz"):
            raise SystemExit(1)
        ok(http("GET", admin + "/healthz")[0] == 200, "answers 200 on /healthz")
        # Before any traffic or reload: the series dashboards and alerts query exist, at zero.
        _, fresh = http("GET", admin + "/metrics", timeout=5)
        fresh = fresh.decode()
        for series in ('hookshift_config_reloads_total{result="success"} 0',
                       'hookshift_config_reloads_total{result="failure"} 0'):
            ok(series in fresh.splitlines(), f"fresh process exports {series}")
        # Every counter and gauge a dashboard panel or an alert queries, with every label value the
        # query names literally (`outcome="unauthorized"`), is exported before its first event: a
        # panel over a series that does not exist yet is empty, and an alert over it cannot fire.
        for where, missing in fresh_gaps(fresh):
            ok(False, f"fresh process lacks {missing} ({where})")
        ok(not fresh_gaps(fresh), "fresh process exports every counter and gauge the dashboard and alerts query, "
                                  "with the label values they name")

        # -------------------------------------------------------------- traffic
        old_id = json.loads(old_body).get("eventId")
        sent = []
        for _ in range(3):
            sent.append(("extend old", post_event(base, "/webhooks/extend", OLD, old_body), 200))
        for _ in range(2):
            sent.append(("extend new", post_event(base, "/webhooks/extend", NEW, new_body), 200))
        for _ in range(2):
            sent.append(("stage3 old", post_event(base, "/webhooks/stage3", OLD, old_body), 400))
        for _ in range(4):
            sent.append(("stage3 new", post_event(base, "/webhooks/stage3", NEW, new_body), 200))
        sent.append(("noisy wrong secret", post_event(base, "/webhooks/noisy", OLD, old_body, secret="wrong"), 401))
        sent.append(("noisy no signature", post_event(base, "/webhooks/noisy", NEW, new_body, headers=False), 401))
        sent.append(("noisy not JSON", post_event(base, "/webhooks/noisy", OLD, b"this is not json"), 400))
        big = json.dumps({"eventId": "evt_big", "eventType": "processor_run.processed",
                          "payload": {"pad": "x" * 70000}}).encode()
        sent.append(("noisy too large", post_event(base, "/webhooks/noisy", OLD, big), 413))
        sent.append(("noisy handler down", post_event(base, "/webhooks/noisy", NEW, new_body), 502))
        unmapped = json.dumps({"eventId": "evt_u", "eventType": "hookshift_e2e.no_such_event",
                               "payload": {"id": "x_1"}}).encode()
        sent.append(("unmapped", post_event(base, "/webhooks/unmapped", OLD, unmapped), 200))
        if legacy:
            sent.append(("legacy new", post_event(base, "/webhooks/legacy", NEW, new_body), 200))
        print("requests:")
        for what, got, want in sent:
            ok(got == want, f"{what}: HTTP {got} (want {want})")

        with Handler.lock:
            got = list(Handler.received)
        print("handler:")
        by_path = {}
        for path, event, good, _ in got:
            by_path.setdefault(path, []).append((event, good))
        ok(all(good for _, _, good, _ in got), f"all {len(got)} deliveries carry a valid hookshift signature")
        ext = by_path.get("/handler/extend", [])
        ok(len(ext) == 3 and all(e and e.get("eventType") == "extract_run.processed" and e.get("eventId") == old_id
                                 for e, _ in ext),
           f"extend: 3 {OLD} events delivered translated to extract_run.processed (got {[e and e.get('eventType') for e, _ in ext]})")
        st3 = [b for p, _, _, b in got if p == "/handler/stage3"]
        ok(len(st3) == 4 and all(b == new_body for b in st3), f"stage3: 4 {NEW} events delivered byte for byte (got {len(st3)})")
        ok("/handler/unmapped" not in by_path, "unmapped: nothing delivered (acked)")
        if legacy:
            leg = by_path.get("/handler/legacy", [])
            ok(len(leg) == 1 and leg[0][0] and leg[0][0].get("eventType") == "processor_run.processed",
               f"legacy: the {NEW} event delivered as processor_run.processed to the {OLD} handler")

        # -------------------------------------------------------------- reloads
        print("reloads:")
        hook.send_signal(signal.SIGHUP)
        ok(wait_for(lambda: scrape_value(admin, "hookshift_config_reloads_total", result="success") >= 1, 15),
           "SIGHUP: hookshift_config_reloads_total{result=\"success\"} >= 1")

        # -------------------------------------------------------------- scrape + names check
        print("metric names (live scrape):")
        status, text = http("GET", admin + "/metrics")
        scrape_file = os.path.join(tmp, "metrics.txt")
        with open(scrape_file, "wb") as f:
            f.write(text)
        ok(status == 200, "GET /metrics answers 200")
        rc = subprocess.call([sys.executable, os.path.join(HERE, "check_exprs.py"), "--metrics", scrape_file])
        ok(rc == 0, "check_exprs.py: every dashboard and alert expression uses exported names and labels")

        # -------------------------------------------------------------- prometheus
        if not args.prometheus:
            print("prometheus: SKIPPED (no prometheus binary; apt-get install prometheus)")
            RESULTS["failed"] += 1
        else:
            prom = Prom(args.prometheus, tmp, admin_port, os.path.join(DEPLOY, "prometheus", "alerts.yml"))
            print(f"prometheus ({args.prometheus}, 127.0.0.1:{prom.port}):")
            up = wait_for(lambda: prom.query('up{job="hookshift"}') and
                          list(prom.query('up{job="hookshift"}').values()) == [1.0], 60)
            if not ok(up, "scrapes hookshift: up{job=\"hookshift\"} == 1"):
                raise SystemExit(1)
            def second_batch():
                codes = [post_event(base, "/webhooks/extend", OLD, old_body) for _ in range(2)]
                codes += [post_event(base, "/webhooks/stage3", NEW, new_body) for _ in range(2)]
                return codes == [200] * 4
            prom_checks(prom, hook, admin, write_config, legacy, second_batch)

        # -------------------------------------------------------------- shutdown
        print("shutdown:")
        hook.send_signal(signal.SIGTERM)
        try:
            code = hook.wait(40)
        except subprocess.TimeoutExpired:
            code = None
        ok(code == 0, f"SIGTERM: hookshift exits by itself with status 0 (got {code})")
    except SystemExit:
        pass
    except Exception as e:  # report, then fail
        RESULTS["failed"] += 1
        print(f"  FAIL  {type(e).__name__}: {e}")
    finally:
        if RESULTS["failed"]:
            try:
                with open(hook_log_path, "rb") as f:
                    tail = f.read().decode(errors="replace").splitlines()[-30:]
                print("--- hookshift log (last 30 lines) ---")
                print("\n".join(tail))
            except OSError:
                pass
        cleanup()
    print(f"e2e: {RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


def fresh_gaps(scrape):
    """-> [(where, what)] for every series a dashboard or alert expression selects by name (and by
    literal label values) that the scrape does not have. Histogram samples (_bucket/_sum/_count) only
    exist after a first observation, and the `up` series is Prometheus's own: both are left out."""
    labels, values, _ = pq.parse_exposition(scrape)
    exprs = check_exprs.dashboard_exprs(os.path.join(DEPLOY, "grafana", "hookshift.json"))
    rules, recorded = check_exprs.rules_exprs(os.path.join(DEPLOY, "prometheus", "alerts.yml"))
    gaps = []
    for where, expr in exprs + rules:
        metrics, _, _ = pq.extract(expr)
        for name, matchers in metrics.items():
            if name in recorded or not name.startswith("hookshift_") or name.endswith(("_bucket", "_sum", "_count")):
                continue
            if name not in labels:
                gaps.append((where, name))
                continue
            for label, op, value in matchers:
                if op == "=" and value and value not in values[name].get(label, set()):
                    gaps.append((where, f'{name}{{{label}="{value}"}}'))
    return sorted(set(gaps))


def panel_expr(title):
    with open(os.path.join(DEPLOY, "grafana", "hookshift.json"), encoding="utf-8") as f:
        d = json.load(f)
    for p in d["panels"]:
        if p.get("title") == title:
            return p["targets"][0]["expr"]
    raise KeyError(title)


def scrape_value(admin, name, **labels):
    _, text = http("GET", admin + "/metrics", timeout=5)
    total = 0.0
    for line in text.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            labs = dict(pq._LABEL.findall(line[len(name):].split("}")[0])) if "{" in line else {}
            if all(labs.get(k) == v for k, v in labels.items()):
                total += float(line.rsplit(None, 1)[1])
    return total


def prom_checks(prom, hook, admin, write_config, legacy, second_batch):
    def settle(q, want, what, timeout=20):
        """Waits until query q returns at least the series of `want` with those values, then asserts."""
        got = wait_for(lambda: (lambda r: r if all(r.get(k) == v for k, v in want.items()) else None)(prom.query(q)),
                       timeout)
        if got is None:
            got = prom.query(q)
        bad = {k: (v, got.get(k)) for k, v in want.items() if got.get(k) != v}
        ok(not bad, f"{what}: {q}" + (f"\n          want/got {bad}" if bad else ""))

    settle("sum by (route, api_version) (hookshift_events_received_total)", {
        key(route="extend", api_version=OLD): 3.0, key(route="extend", api_version=NEW): 2.0,
        key(route="stage3", api_version=OLD): 2.0, key(route="stage3", api_version=NEW): 4.0,
    }, "events received per route and API version")
    want = {
        key(route="extend", api_version=OLD, target_version=NEW, outcome="delivered"): 3.0,
        key(route="extend", api_version=NEW, target_version=NEW, outcome="acked"): 2.0,
        key(route="stage3", api_version=OLD, target_version=NEW, outcome="rejected"): 2.0,
        key(route="stage3", api_version=NEW, target_version=NEW, outcome="delivered"): 4.0,
    }
    if legacy:
        want[key(route="legacy", api_version=NEW, target_version=OLD, outcome="delivered")] = 1.0
    settle("sum by (route, api_version, target_version, outcome) (hookshift_events_total)", want,
           "outcomes per route, sending and target version")
    settle('sum by (route, outcome) (hookshift_events_total{route=~"noisy|unmapped"})', {
        key(route="noisy", outcome="unauthorized"): 2.0, key(route="noisy", outcome="invalid"): 1.0,
        key(route="noisy", outcome="too_large"): 1.0, key(route="noisy", outcome="downstream_error"): 1.0,
        key(route="unmapped", outcome="unmapped"): 1.0,
    }, "bad input, handler down and unmapped outcomes")
    settle('sum by (route, api_version, event_type) (hookshift_events_total{route="extend"})', {
        key(route="extend", api_version=OLD, event_type="processor_run.processed"): 3.0,
        key(route="extend", api_version=NEW, event_type="extract_run.processed"): 2.0,
    }, "event_type label is the event's type as sent")
    settle("sum by (route, target_version) (hookshift_delivery_duration_seconds_count)", {
        key(route="extend", target_version=NEW): 3.0, key(route="stage3", target_version=NEW): 4.0,
    }, "delivery latency histogram counts per route and target version")
    settle('sum by (route, status_class) (hookshift_downstream_responses_total)', {
        key(route="extend", status_class="2xx"): 3.0, key(route="stage3", status_class="2xx"): 4.0,
        key(route="noisy", status_class="connect_error"): 1.0,
    }, "handler responses by status class")
    settle('sum by (route) (hookshift_translation_duration_seconds_count{route="extend"}) >= bool 3', {
        key(route="extend"): 1.0}, "translation latency histogram counts the 3 translations")
    settle("sum by (route) (hookshift_inflight_requests)", {
        key(route="extend"): 0.0, key(route="stage3"): 0.0}, "nothing in flight once the requests are answered")
    settle("count(hookshift_build_info == 1)", {(): 1.0}, "hookshift_build_info{version} == 1")
    settle("max(hookshift_config_last_reload_success)", {(): 1.0}, "last reload succeeded")
    settle('sum(hookshift_config_reloads_total{result="success"}) >= bool 1', {(): 1.0}, "the SIGHUP reload is counted")

    # rates need a counter to rise between scrapes: a second batch once the first one has been scraped,
    # then the dashboard's migration panel ("Deliveries still from $old_version") per route
    ok(second_batch(), "second batch: 2 more old events on extend, 2 more new events on stage3, all 200")
    settle('sum by (route, api_version, outcome) (hookshift_events_total{outcome="delivered"})', {
        key(route="extend", api_version=OLD, outcome="delivered"): 5.0,
        key(route="stage3", api_version=NEW, outcome="delivered"): 6.0,
    }, "second batch scraped")
    share = panel_expr("Deliveries still from $old_version")
    for route, want, stage in (("extend", 1.0, "stage 2: every delivery from the old endpoint"),
                               ("stage3", 0.0, "stage 3: none from the old endpoint")):
        q = pq.substitute(share, dict(check_exprs.DASHBOARD_VARS, route=route))
        got = prom.query(q)
        ok(list(got.values()) == [want], f"dashboard share of deliveries from {OLD} on route {route} = {want:.0%} ({stage}); got {list(got.values())}")

    # a refused config: counted, gauge 0, the alert goes pending, the old config keeps serving
    write_config(bogus=True)
    hook.send_signal(signal.SIGHUP)
    settle("max(hookshift_config_last_reload_success)", {(): 0.0}, "invalid config refused: last_reload_success 0")
    settle('sum(hookshift_config_reloads_total{result="failure"}) >= bool 1', {(): 1.0}, "the refused reload is counted")
    settle('count(ALERTS{alertname="HookshiftConfigReloadFailed",alertstate="pending"})', {(): 1.0},
           "alert HookshiftConfigReloadFailed is pending")
    ok(http("GET", admin + "/readyz")[0] == 200, "still ready on the previous config")
    write_config()
    hook.send_signal(signal.SIGHUP)
    settle("max(hookshift_config_last_reload_success)", {(): 1.0}, "valid config again: last_reload_success 1")

    # every dashboard expression evaluates in Prometheus; the main ones return data
    exprs = check_exprs.dashboard_exprs(os.path.join(DEPLOY, "grafana", "hookshift.json"))
    errors, empty = [], []
    for where, e in exprs:
        try:
            if not prom.api("query", query=e)["result"]:
                empty.append(where)
        except ValueError as err:
            errors.append(f"{where}: {err}")
    ok(not errors, f"all {len(exprs)} dashboard expressions evaluate in Prometheus" + "".join("\n          " + x for x in errors))
    print(f"        ({len(exprs) - len(empty)} return data, {len(empty)} empty: {empty[:3]})")

    # every alert rule evaluates without error against hookshift's real series
    def rules_ok():
        groups = prom.api("rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        return rules if rules and all(r.get("lastEvaluation", "").startswith("20") and
                                      not r["lastEvaluation"].startswith("0001") for r in rules) else None
    rules = wait_for(rules_ok, 70) or [r for g in prom.api("rules")["groups"] for r in g["rules"]]
    bad = [f"{r['name']}: {r.get('health')} {r.get('lastError', '')}" for r in rules if r.get("health") != "ok"]
    ok(rules and not bad, f"all {len(rules)} rules of alerts.yml evaluate without error" + "".join("\n          " + b for b in bad))
    firing = prom.query('ALERTS{alertstate="firing"}')
    names = sorted({dict(k).get("alertname") for k in firing})
    print(f"        (alerts firing at the end: {names or 'none'})")


if __name__ == "__main__":
    sys.exit(main())
