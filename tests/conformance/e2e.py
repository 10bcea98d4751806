#!/usr/bin/env python3
"""End to end, with Extend's own SDK as the judge: the real hookshift binary between a signing sender
and a recording handler.

    .venv-new/bin/python tests/conformance/e2e.py --binary target/debug/hookshift

For every golden input of both steps (2025-04-21 -> 2026-02-09 and back; among them an event of
several MB), this script:

1. signs the input as Extend does (HMAC-SHA256 of `v0:{ts}:{body}`, lowercase hex) and POSTs it to
   hookshift with `?api_version=<its version>`; hookshift must answer 200;
2. receives, in a handler served here on 127.0.0.1:0, what hookshift forwarded;
3. checks the forwarded bytes with extend-ai 1.20.0's `Webhooks.verify` and the handler's secret
   (the signature a real handler built on the SDK would check), and that they are valid UTF-8 JSON;
4. validates every forwarded body strictly against the SDK of the version the handler speaks
   (tests/conformance/validate.py, run in .venv-new or .venv-old);
5. checks that the forwarded event equals the golden output, except for the values the mappings
   take from the delivery's timestamp (the golden files use a fixed one).

Then the same for signed-URL payloads: every golden run event (`processor_run.*`, `workflow_run.*`,
`parser_run.*` and their 2026-02-09 counterparts) is sent as a small envelope whose payload is a
signed download URL (the SDK's `signed_data_url` object and the docs' bare `{"data": URL}` in turn),
the golden payload hosted on a local server. hookshift must fetch it, translate the rebuilt event and
deliver it inline: verified with `Webhooks.verify`, `is_signed_url_event` false, equal to the golden
output, validated by the target SDK. A signed-URL event whose versions match is delivered byte for
byte (still a signed URL for the handler's SDK), and one whose URL answers 404 is refused with 502
`signed_url_unavailable` and nothing delivered.

Exit status 0 when everything holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
OLD, NEW = "2025-04-21", "2026-02-09"
SENDER_SECRET = "wss_e2e_sender_secret"
HANDLER_SECRETS = {NEW: "wss_e2e_handler_new", OLD: "wss_e2e_handler_old"}
GOLDEN_TIMESTAMP_TEXT = "2026-02-13T16:26:40Z"
# Event families Extend may deliver as a signed download URL (runs: the large payloads), both versions.
SIGNED_URL_TYPES = {"processor_run", "workflow_run", "parser_run", "extract_run", "classify_run", "split_run", "parse_run"}


class Recorder(BaseHTTPRequestHandler):
    """The handler: records each delivery (path, headers, exact body) and answers 200."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        with self.server.lock:
            self.server.records.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class PayloadHost(BaseHTTPRequestHandler):
    """The sender's storage: serves the payloads registered in `server.payloads` by path, counts GETs."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        with self.server.lock:
            self.server.gets.append((self.path, self.headers.get("authorization")))
            body = self.server.payloads.get(path)
        self.send_response(200 if body is not None else 404)
        body = body if body is not None else b"no such payload"
        self.send_header("content-length", str(len(body)))
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def sign(body: bytes, secret: str, timestamp: int) -> str:
    return hmac.new(secret.encode(), b"v0:%d:" % timestamp + body, hashlib.sha256).hexdigest()


def write_config(path: Path, handler_port: int) -> None:
    routes = []
    for name, route_path, target in (("to_new", "/to-new", NEW), ("to_old", "/to-old", OLD)):
        routes.append(
            f"""
[[routes]]
name = "{name}"
path = "{route_path}"
provider = "extend"
inbound_secrets = ["{SENDER_SECRET}"]
default_version = "{OLD if target == NEW else NEW}"
unmapped = "reject"
[routes.downstream]
url = "http://127.0.0.1:{handler_port}/{target}"
version = "{target}"
secret = "{HANDLER_SECRETS[target]}"
timeout_ms = 20000
[routes.policy]
"{OLD}" = "forward"
"{NEW}" = "forward"
[routes.signed_url]
allow_hosts = ["127.0.0.1"]
timeout_ms = 5000
"""
        )
    path.write_text(
        f"""
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
log_format = "json"
reload_poll_ms = 0
max_body_bytes = 33554432
[mappings]
dir = "{ROOT / 'mappings'}"
# Golden cases share event ids and are sent more than once (inline, then as signed URLs): each must be
# delivered, so the twin pairing that would answer later copies as duplicates is off.
[ledger]
backend = "off"
"""
        + "".join(routes)
    )


def start_hookshift(binary: Path, config: Path) -> tuple[subprocess.Popen, str]:
    """Starts hookshift and reads its webhook address from the JSON startup log line."""
    process = subprocess.Popen(
        [str(binary), "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "RUST_LOG": "info"},
    )
    deadline = time.monotonic() + 60
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        try:
            record = json.loads(line)
        except ValueError:
            continue
        fields = record.get("fields", record)
        if "listen" in fields and "admin_listen" in fields:
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
            return process, fields["listen"]
    process.kill()
    raise SystemExit("hookshift did not start:\n" + "".join(seen))


def cases() -> list[tuple[str, str, Path, Path | None]]:
    """(sending version, target version, input, expected output or None) for every golden case."""
    found = []
    for sending, target in ((OLD, NEW), (NEW, OLD)):
        folder = ROOT / "mappings" / f"{sending}_to_{target}" / "golden"
        for path in sorted(folder.glob("*.input.json")):
            found.append((sending, target, path, path.with_name(path.name.replace(".input.", ".output."))))
    return found


def first_difference(want, got, at="$") -> str:
    if isinstance(want, dict) and isinstance(got, dict):
        for key in want:
            if key not in got:
                return f"{at}.{key}: expected, missing"
            if want[key] != got[key]:
                return first_difference(want[key], got[key], f"{at}.{key}")
        extra = [k for k in got if k not in want]
        return f"{at}.{extra[0]}: not expected, present" if extra else f"{at}: differs"
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for i, (w, g) in enumerate(zip(want, got)):
            if w != g:
                return first_difference(w, g, f"{at}[{i}]")
    return f"{at}: expected {json.dumps(want)[:80]}, found {json.dumps(got)[:80]}"


def post(url: str, body: bytes, timestamp: int) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "content-type": "application/json",
            "x-extend-request-timestamp": str(timestamp),
            "x-extend-request-signature": sign(body, SENDER_SECRET, timestamp),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def delivery_facts_removed(value, timestamp_text: str):
    """The event with every value the mappings take from the delivery timestamp replaced by a marker."""
    if isinstance(value, dict):
        return {k: delivery_facts_removed(v, timestamp_text) for k, v in value.items()}
    if isinstance(value, list):
        return [delivery_facts_removed(v, timestamp_text) for v in value]
    if value == timestamp_text:
        return "<delivery timestamp>"
    return value


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", type=Path, default=ROOT / "target" / "debug" / "hookshift")
    args = parser.parse_args(argv)

    from extend_ai import Extend  # extend-ai 1.20.0, this interpreter's venv

    webhooks = Extend(token="unused-no-api-calls-are-made").webhooks
    failures: list[str] = []
    handler = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    handler.records, handler.lock = [], threading.Lock()
    threading.Thread(target=handler.serve_forever, daemon=True).start()
    payload_host = ThreadingHTTPServer(("127.0.0.1", 0), PayloadHost)
    payload_host.payloads, payload_host.gets, payload_host.lock = {}, [], threading.Lock()
    threading.Thread(target=payload_host.serve_forever, daemon=True).start()

    all_cases: list = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        config = workdir / "config.toml"
        write_config(config, handler.server_address[1])
        process, listen = start_hookshift(args.binary, config)
        try:
            all_cases = cases()
            delivered: dict[str, list[Path]] = {NEW: [], OLD: []}
            signed_delivered = 0
            def check_delivery(label, target, before, timestamp, expected_path, input_path, prefix=""):
                """The one delivery since `before`: signature, JSON, golden output; kept for validate.py."""
                with handler.lock:
                    new_records = handler.records[before:]
                if len(new_records) != 1:
                    failures.append(f"{label}: handler received {len(new_records)} deliveries, expected 1")
                    return None
                path, headers, forwarded = new_records[0]
                if path != f"/{target}":
                    failures.append(f"{label}: delivered to {path}, expected /{target}")
                if not webhooks.verify(forwarded, headers, HANDLER_SECRETS[target]):
                    failures.append(f"{label}: extend-ai 1.20.0 Webhooks.verify rejects the forwarded signature")
                try:
                    event = json.loads(forwarded.decode("utf-8"))
                except (UnicodeDecodeError, ValueError) as err:
                    failures.append(f"{label}: forwarded body is not UTF-8 JSON: {err}")
                    return None
                # NNN-NAME.output.json beside NNN-NAME.input.json: validate.py --drift-from-input accepts
                # the unknown keys a drift case's input carried (passed on), and nothing else.
                number = len(list(workdir.iterdir()))
                out = workdir / f"{number:03d}-{prefix}{input_path.name.replace('.input.', '.output.')}"
                out.write_bytes(forwarded)
                (workdir / f"{number:03d}-{prefix}{input_path.name}").write_bytes(input_path.read_bytes())
                delivered[target].append(out)
                if expected_path is not None:
                    expected = json.loads(expected_path.read_text(encoding="utf-8"))
                    sent_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(headers.get("x-extend-request-timestamp", "0"))))
                    inbound_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
                    got = delivery_facts_removed(event, inbound_at)
                    want = delivery_facts_removed(expected, GOLDEN_TIMESTAMP_TEXT)
                    if got != want:
                        failures.append(
                            f"{label}: forwarded event differs from {expected_path.name} beyond delivery timestamps"
                            f" (delivered at {sent_at}): {first_difference(want, got)}"
                        )
                return forwarded, event

            for sending, target, input_path, expected_path in all_cases:
                label = f"{sending}->{target} {input_path.name}"
                body = input_path.read_bytes()
                timestamp = int(time.time())
                route = "/to-new" if target == NEW else "/to-old"
                before = len(handler.records)
                status, answer = post(f"http://{listen}{route}?api_version={sending}", body, timestamp)
                if status != 200:
                    failures.append(f"{label}: hookshift answered {status}: {answer[:300]!r}")
                    continue
                check_delivery(label, target, before, timestamp, expected_path, input_path)

            # Signed-URL payloads: the golden run payloads hosted on the sender's storage.
            signed = [c for c in all_cases if json.loads(c[2].read_text(encoding="utf-8"))["eventType"].split(".")[0] in SIGNED_URL_TYPES]
            host = f"http://127.0.0.1:{payload_host.server_address[1]}"
            for number, (sending, target, input_path, expected_path) in enumerate(signed):
                event = json.loads(input_path.read_text(encoding="utf-8"))
                path = f"/payloads/{number}"
                with payload_host.lock:
                    payload_host.payloads[path] = json.dumps(event["payload"]).encode()
                url = f"{host}{path}?X-Amz-Expires=3600&X-Amz-Signature=e2e{number:04d}"
                if number % 2 == 0:
                    link = {"object": "signed_data_url", "data": url, "id": event["payload"].get("id", ""), "metadata": event["payload"].get("metadata") or {}}
                    form = "signed_data_url"
                else:
                    link, form = {"data": url}, "bare data"
                envelope = json.dumps({"eventId": event["eventId"], "eventType": event["eventType"], "payload": link}).encode()
                if webhooks.is_signed_url_event(json.loads(envelope)) != (form == "signed_data_url"):
                    failures.append(f"signed URL {input_path.name}: the SDK's own detection disagrees with the {form} form")
                label = f"signed URL ({form}) {sending}->{target} {input_path.name}"
                timestamp = int(time.time())
                route = "/to-new" if target == NEW else "/to-old"
                before, gets = len(handler.records), len(payload_host.gets)
                status, answer = post(f"http://{listen}{route}?api_version={sending}", envelope, timestamp)
                if status != 200:
                    failures.append(f"{label}: hookshift answered {status}: {answer[:300]!r}")
                    continue
                with payload_host.lock:
                    fetched = payload_host.gets[gets:]
                if len(fetched) != 1 or fetched[0][0] != url[len(host):] or fetched[0][1] is not None:
                    failures.append(f"{label}: expected one GET of the signed URL without credentials, saw {fetched}")
                result = check_delivery(label, target, before, timestamp, expected_path, input_path, prefix="signed-")
                if result is not None and webhooks.is_signed_url_event(result[1]):
                    failures.append(f"{label}: the handler's SDK still sees a signed URL")
                signed_delivered += result is not None

            # Versions match: the envelope passes through as sent, still a signed URL for the handler.
            url = f"{host}/payloads/0?X-Amz-Signature=e2e-passthrough"
            envelope = json.dumps({"eventId": "evt_e2e_pass", "eventType": "extract_run.processed", "payload": {"object": "signed_data_url", "data": url, "id": "exr_1"}}).encode()
            before, gets = len(handler.records), len(payload_host.gets)
            status, answer = post(f"http://{listen}/to-new?api_version={NEW}", envelope, int(time.time()))
            with handler.lock:
                new_records = handler.records[before:]
            if status != 200 or len(new_records) != 1 or new_records[0][2] != envelope:
                failures.append(f"signed URL passthrough: answered {status}, {len(new_records)} deliveries, bytes equal: {bool(new_records) and new_records[0][2] == envelope}")
            elif not (webhooks.verify(new_records[0][2], new_records[0][1], HANDLER_SECRETS[NEW]) and webhooks.is_signed_url_event(json.loads(new_records[0][2]))):
                failures.append("signed URL passthrough: the handler's SDK does not verify it or does not see a signed URL")
            if len(payload_host.gets) != gets:
                failures.append("signed URL passthrough: hookshift fetched a URL it had no need of")

            # A URL that no longer serves the payload: 502, so the sender retries with a fresh one.
            envelope = json.dumps({"eventId": "evt_e2e_gone", "eventType": "processor_run.processed", "payload": {"object": "signed_data_url", "data": f"{host}/payloads/gone?X-Amz-Signature=e2e-gone", "id": "dpr_gone"}}).encode()
            before = len(handler.records)
            status, answer = post(f"http://{listen}/to-new?api_version={OLD}", envelope, int(time.time()))
            error = json.loads(answer or b"{}").get("error")
            if (status, error) != (502, "signed_url_unavailable") or len(handler.records) != before or b"e2e-gone" in answer:
                failures.append(f"signed URL gone: answered {status} {answer[:200]!r}, {len(handler.records) - before} deliveries")

            # Strict validation with the SDK of the version each handler speaks.
            for target, venv in ((NEW, ".venv-new"), (OLD, ".venv-old")):
                files = delivered[target]
                if not files:
                    failures.append(f"no event was delivered to the {target} handler")
                    continue
                result = subprocess.run(
                    [str(ROOT / venv / "bin" / "python"), str(HERE / "validate.py"), "--schema", target,
                     "--drift-from-input", *map(str, files)],
                    capture_output=True,
                    text=True,
                )
                if result.returncode != 0:
                    failures.append(f"validate.py --schema {target} failed:\n{result.stdout}{result.stderr}")
            print(f"e2e: {len(all_cases)} events through hookshift, {len(delivered[NEW])} delivered to the {NEW} handler, {len(delivered[OLD])} to the {OLD} handler, {signed_delivered} of them from signed URLs")
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            handler.shutdown()
            payload_host.shutdown()

    for failure in failures:
        print(f"FAIL {failure}")
    failed_cases = {f.split(":", 1)[0] for f in failures}
    print(f"e2e: {max(len(all_cases) - len(failed_cases), 0)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
