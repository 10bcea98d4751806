"""Standard Webhooks against the official library (PyPI `standardwebhooks`), through the real binary.

    .venv-standard/bin/python tests/conformance/standard_webhooks.py --binary target/debug/hookshift

The library signs what hookshift verifies, and verifies what hookshift delivers:

1. A handler on 127.0.0.1:0 verifies every delivery with `Webhook(handler secret).verify`; hookshift
   serves a `provider = "standard"` route translating the example set (tests/mappings-standard,
   v1 -> v2) to it.
2. Every golden input, signed by `Webhook(sender secret).sign`, is sent under `webhook-*` names and
   again under Svix's `svix-*` names. Each must be delivered as the golden output, verified by the
   library with the handler's secret, under the same message id and in the same header family. The
   library reads `webhook-*` names only; Svix's own libraries read both, so a `svix-*` delivery is
   verified with its headers renamed, as they do.
3. What the library refuses, hookshift refuses (401): a tampered body, another secret, an expired
   timestamp, and a signature list whose only `v1` entry is empty.
4. The CLI: `hookshift sign --provider standard` headers verify with the library, and the library's
   headers verify with `hookshift verify --provider standard`.

Prints one line per check and `N passed, N failed`; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import base64
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "tests" / "mappings-standard"
SENDER_SECRET = "whsec_" + base64.b64encode(b"oracle-sender-signing-key-0001").decode()
HANDLER_SECRET = "whsec_" + base64.b64encode(b"oracle-handler-signing-key-02").decode()
FAMILIES = ("webhook", "svix")

results: list[tuple[str, bool, str]] = []


def record(name: str, ok: bool, detail: str = "") -> None:
    results.append((name, ok, detail))
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}", flush=True)


class Handler(http.server.BaseHTTPRequestHandler):
    """Verifies each delivery with the library and records it."""

    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        family = "svix" if "svix-id" in headers else "webhook"
        # Svix's libraries accept both names; this one reads webhook-* only.
        as_standard = {
            name.replace("svix-", "webhook-", 1) if name.startswith("svix-") else name: value
            for name, value in headers.items()
        }
        try:
            Webhook(HANDLER_SECRET).verify(body, as_standard)
            verified, error = True, ""
        except WebhookVerificationError as e:
            verified, error = False, str(e)
        Handler.received.append(
            {"body": body, "headers": headers, "family": family, "verified": verified, "error": error}
        )
        self.send_response(200 if verified else 401)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def write_config(directory: Path, handler_url: str) -> Path:
    path = directory / "config.toml"
    path.write_text(
        f"""
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
log_format = "json"
reload_poll_ms = 0
[mappings]
dir = {json.dumps(str(MAPPINGS))}
[ledger]
backend = "off"

[[routes]]
name = "standard_oracle"
path = "/hooks/standard"
provider = "standard"
inbound_secrets = [{json.dumps(SENDER_SECRET)}]
default_version = "v1"
unmapped = "reject"
[routes.downstream]
url = {json.dumps(handler_url)}
version = "v2"
secret = {json.dumps(HANDLER_SECRET)}
[routes.policy]
"v1" = "forward"
"v2" = "forward"
"""
    )
    return path


def start_hookshift(binary: str, config: Path) -> tuple[subprocess.Popen, str]:
    """Starts hookshift and reads its webhook address from the JSON startup log line."""
    process = subprocess.Popen(
        [binary, "serve", "--config", str(config)],
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
            fields = json.loads(line)
        except ValueError:
            continue
        fields = fields.get("fields", fields)
        if "listen" in fields and "admin_listen" in fields:
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
            return process, fields["listen"]
    process.kill()
    raise SystemExit("hookshift did not start:\n" + "".join(seen))


def signed(body: bytes, msg_id: str, family: str, secret: str = SENDER_SECRET, at: datetime | None = None) -> dict:
    at = at or datetime.now(tz=timezone.utc)
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    return {
        f"{family}-id": msg_id,
        f"{family}-timestamp": str(int(at.timestamp())),
        f"{family}-signature": signature,
        "content-type": "application/json",
    }


def post(url: str, body: bytes, headers: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def golden_cases() -> list[tuple[str, bytes, object]]:
    folder = MAPPINGS / "v1_to_v2" / "golden"
    return [
        (path.name.removesuffix(".input.json"), path.read_bytes(),
         json.loads(path.with_name(path.name.replace(".input.", ".output.")).read_text()))
        for path in sorted(folder.glob("*.input.json"))
    ]


def check_deliveries(url: str) -> None:
    for name, body, expected in golden_cases():
        for family in FAMILIES:
            msg_id = f"msg_{name}_{family}"
            before = len(Handler.received)
            status, answer = post(url + "?api_version=v1", body, signed(body, msg_id, family))
            label = f"{name} under {family}-* names"
            if status != 200 or len(Handler.received) != before + 1:
                record(label, False, f"answered {status} {answer}, {len(Handler.received) - before} deliveries")
                continue
            got = Handler.received[-1]
            problems = []
            if not got["verified"]:
                problems.append(f"the library refused the delivery: {got['error']}")
            if json.loads(got["body"]) != expected:
                problems.append(f"delivered {got['body']!r}, not the golden output")
            if got["headers"].get(f"{family}-id") != msg_id:
                problems.append(f"delivered under id {got['headers'].get(f'{family}-id')!r}, not {msg_id!r}")
            if got["family"] != family:
                problems.append(f"delivered under {got['family']}-* names")
            record(label, not problems, "; ".join(problems))


def check_refusals(url: str) -> None:
    body = next(iter(golden_cases()))[1]
    before = len(Handler.received)
    headers = signed(body, "msg_tampered", "webhook")
    cases = {
        "a tampered body": (body.replace(b"4200", b"4201"), headers),
        "another secret": (body, signed(body, "msg_other", "webhook", secret=HANDLER_SECRET)),
        "an expired timestamp": (
            body,
            signed(body, "msg_old", "webhook", at=datetime.fromtimestamp(time.time() - 3600, tz=timezone.utc)),
        ),
        "an empty v1 entry": (body, {**headers, "webhook-signature": "v1,"}),
    }
    for what, (sent, sent_headers) in cases.items():
        library = "accepts"
        try:
            Webhook(SENDER_SECRET).verify(sent, sent_headers)
        except WebhookVerificationError:
            library = "refuses"
        status, answer = post(url + "?api_version=v1", sent, sent_headers)
        ok = library == "refuses" and status == 401 and answer.get("error") == "invalid_signature"
        record(f"{what}: the library {library}, hookshift answers {status}", ok, json.dumps(answer))
    record("refused deliveries reach no handler", len(Handler.received) == before)


def check_cli(binary: str) -> None:
    body = (MAPPINGS / "v1_to_v2" / "golden" / "invoice_paid.input.json").read_bytes()
    with tempfile.NamedTemporaryFile(suffix=".json") as file:
        file.write(body)
        file.flush()
        out = subprocess.run(
            [binary, "sign", "--provider", "standard", "--secret", SENDER_SECRET, "--id", "msg_cli", file.name],
            capture_output=True, text=True, check=False,
        )
        headers = dict(line.split(": ", 1) for line in out.stdout.splitlines())
        try:
            Webhook(SENDER_SECRET).verify(body, headers)
            record("hookshift sign: the library verifies its headers", headers.get("webhook-id") == "msg_cli")
        except (WebhookVerificationError, ValueError) as e:
            record("hookshift sign: the library verifies its headers", False, f"{e}: {out.stdout}{out.stderr}")
        for family in FAMILIES:
            args = [binary, "verify", "--provider", "standard", "--secret", SENDER_SECRET]
            for name, value in signed(body, "msg_lib", family).items():
                args += ["--header", f"{name}: {value}"]
            out = subprocess.run(args + [file.name], capture_output=True, text=True, check=False)
            record(
                f"hookshift verify: the library's {family}-* headers verify",
                out.returncode == 0 and "id msg_lib" in out.stdout,
                out.stdout + out.stderr,
            )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    args = parser.parse_args()
    handler = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=handler.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as directory:
        config = write_config(Path(directory), f"http://127.0.0.1:{handler.server_address[1]}/webhooks")
        process, listen = start_hookshift(args.binary, config)
        try:
            url = f"http://{listen}/hooks/standard"
            check_deliveries(url)
            check_refusals(url)
            check_cli(args.binary)
        finally:
            process.terminate()
            process.wait(timeout=30)
            handler.shutdown()
    failed = sum(1 for _, ok, _ in results if not ok)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
