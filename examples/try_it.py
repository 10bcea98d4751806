#!/usr/bin/env python3
"""Runs the README's "Try it" as written and checks it prints what the README says it prints.

    .venv-new/bin/python examples/try_it.py [--binary target/debug/hookshift]

The same three programs as the README (examples/handler.py, `hookshift serve --config config.toml`,
`hookshift send ...`), with the same files, secrets and config, but on free loopback ports (the README's
8080/9464/3000 may be taken where CI runs): the listen addresses and the handler URL are overridden
through HOOKSHIFT__ variables, nothing else. Also checks that the README still shows those commands and
that expected output, so the page and this check cannot drift apart. Exit 0 when all holds.
"""
import argparse
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
EVENT = "examples/events/processor_run.processed.2025-04-21.json"
OLD_SECRET = "wss_dev_old_endpoint_replace_in_production"
# What the README tells the reader to run, each as it appears there (ports are the README's).
README_COMMANDS = [
    ".venv-new/bin/python examples/handler.py",
    "hookshift serve --config config.toml",
    f"hookshift send {EVENT} \\\n  --to http://127.0.0.1:8080/webhooks/extend --secret {OLD_SECRET}",
    "hookshift status --config config.toml",
]
STATUS_STAGE = "route extend: stage 1/2: "
STATUS_VERDICT = "verdict: stage 1/2 -> 3: not yet: "
SEND_OUTPUT = '200 OK\n{"status":"delivered"}\n'
HANDLER_LINE = re.compile(r"^handler: verified extract_run\.processed evt_7Qm2Lx9RfT4vB8nK1cZ3p \(extract_run, \d+ bytes, signed at \d+\)$", re.M)

RESULTS = {"passed": 0, "failed": 0}


def ok(cond, what):
    RESULTS["passed" if cond else "failed"] += 1
    print(f"  {'ok  ' if cond else 'FAIL'}  {what}")
    return cond


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # it answers
        except OSError:
            time.sleep(0.2)
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.environ.get("HOOKSHIFT_BIN", os.path.join(REPO, "target", "debug", "hookshift")))
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)

    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    print("README:")
    for command in README_COMMANDS:
        ok(command in readme, f"shows `{command.splitlines()[0]}`")
    ok(SEND_OUTPUT.strip() in readme, "shows the answer hookshift send prints")
    ok("handler: verified extract_run.processed evt_7Qm2Lx9RfT4vB8nK1cZ3p (extract_run, " in readme,
       "shows the line the handler prints")
    ok(STATUS_STAGE in readme and STATUS_VERDICT in readme, "shows what hookshift status prints")

    hook_port, admin_port, handler_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKSHIFT__")}
    procs = []
    try:
        handler = subprocess.Popen([sys.executable, "examples/handler.py", "--port", str(handler_port)], cwd=REPO,
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(handler)
        serve_env = dict(env, HOOKSHIFT__SERVER__LISTEN=f"127.0.0.1:{hook_port}",
                         HOOKSHIFT__SERVER__ADMIN_LISTEN=f"127.0.0.1:{admin_port}",
                         HOOKSHIFT__ROUTES__0__DOWNSTREAM__URL=f"http://127.0.0.1:{handler_port}/webhooks")
        serve = subprocess.Popen([binary, "serve", "--config", "config.toml"], cwd=REPO, env=serve_env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append(serve)
        print("running:")
        if not ok(wait_http(f"http://127.0.0.1:{admin_port}/readyz") and wait_http(f"http://127.0.0.1:{handler_port}/"),
                  "hookshift and the handler are up"):
            return 1

        def send(*extra):
            return subprocess.run([binary, "send", EVENT, "--to", f"http://127.0.0.1:{hook_port}/webhooks/extend", *extra],
                                  cwd=REPO, env=env, capture_output=True, text=True, timeout=60)

        p = send("--secret", OLD_SECRET)
        ok(p.returncode == 0 and p.stdout == SEND_OUTPUT, f"hookshift send prints {SEND_OUTPUT!r}" + ("" if p.returncode == 0 and p.stdout == SEND_OUTPUT else f" (got {p.stdout!r} {p.stderr!r})"))
        # The new endpoint's events are acknowledged at the shipped stage (policy "2026-02-09" = "ack").
        p = send("--secret", "wss_dev_new_endpoint_replace_in_production", "--api-version", "2026-02-09")
        ok(p.returncode == 0 and p.stdout == '200 OK\n{"status":"acked"}\n', f"--api-version 2026-02-09 is acked: {p.stdout!r}")
        p = send("--secret", "wss_not_the_secret")
        ok(p.returncode == 1 and "answered 401 Unauthorized" in p.stderr, f"a wrong secret is refused: {p.stderr.strip()!r}")
        # Last, `hookshift status` reads the ledger the server writes every 2 s (earlier runs' history
        # may be there too: only this run's shape is checked).
        def status(*extra):
            return subprocess.run([binary, "status", "--config", "config.toml", *extra], cwd=REPO, env=env,
                                  capture_output=True, text=True, timeout=60)
        end = time.time() + 15
        p = status()
        while time.time() < end and not re.search(r"^    2025-04-21: [1-9]", p.stdout, re.M):
            time.sleep(0.5)
            p = status()
        ok(p.returncode == 0 and STATUS_STAGE in p.stdout and STATUS_VERDICT in p.stdout
           and re.search(r"^    2025-04-21: [1-9]", p.stdout, re.M),
           f"hookshift status shows the stage, this run's traffic and the verdict: {p.stdout!r} {p.stderr!r}")
        p = status("--ready-for", "3")
        ok(p.returncode == 1 and "ready for 3: no" in p.stdout, f"the gate stays closed: {p.stdout[-200:]!r}")
    finally:
        for proc in procs:
            proc.terminate()
        outputs = [proc.communicate(timeout=30)[0] for proc in procs]
    handler_out = outputs[0] or ""
    lines = HANDLER_LINE.findall(handler_out)
    ok(len(lines) == 1, f"the handler verified the translated event once with Extend's SDK: {lines or handler_out!r}")
    print(f"try-it: {RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
