#!/usr/bin/env python3
"""How big the file ledger grows: unique events through the real server, the file measured as it grows.

hookshift runs the shipped default ledger (no [ledger] table: backend "file", `hookshift.ledger`
beside the configuration, default retention and max_entries) on the translating route of
bench/load.py --ledger (the 5 KB 2025-04-21 `processor_run.processed` translated to 2026-02-09,
shipped mappings and schemas, policy 2025-04-21 forward / 2026-02-09 ack), delivering to
bench/downstream.rs. Events are sent in batches of --batch unique pre-signed events (bench/presign.py:
each its own eventId and run id) by bench/rate_load.rs --send-all (a closed loop of --connections
requests in flight). After each batch hookshift is stopped gracefully (so SQLite folds its WAL into
the file) and the ledger is measured: the file with its -wal/-shm, its entries (rows of the SQLite
table `entries` when the file has one, else the events hookshift answered as delivered: one entry per
unique event) and the bytes per entry, overall and for the batch alone (the growth divided by the
batch's new entries: constant when the size is linear in the entries). Then it starts again on the
same file.

Usage: bench/ledger_size.py [--events 100000] [--batch 25000] [--connections 32] [--skip-build]
       bench/ledger_size.py --events 1000000 --batch 50000     # the full million
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import json
import shutil
import signal
import pathlib
import sqlite3
import urllib.request

import load
import ledger_load
import presign
from load import OLD, PORTS, RELEASE, INBOUND_SECRET, log

RATE = 1_000_000  # far above what the server sustains: the sender is closed-loop


def outcomes(admin_port):
    """hookshift_events_total of this process, summed per outcome."""
    page = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics").read().decode()
    totals = {}
    for labels, value in re.findall(r"^hookshift_events_total\{([^}]*)\} (\S+)", page, re.M):
        outcome = re.search(r'outcome="([^"]*)"', labels).group(1)
        totals[outcome] = totals.get(outcome, 0) + int(float(value))
    return {k: v for k, v in totals.items() if v}


def count_entries(ledger, delivered):
    """Rows of the SQLite `entries` table when the file has one (read after the server stopped),
    else the events delivered (one entry per unique event); and the mean length of the rows' `body`
    column when there is one (the record itself, without SQLite's overhead)."""
    try:
        with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT count(*) FROM entries").fetchone()[0]
            try:
                body = db.execute("SELECT avg(length(body)) FROM entries").fetchone()[0]
            except sqlite3.Error:
                body = None
            return rows, "rows of table entries", body
    except sqlite3.Error:
        return delivered, "events delivered", None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=25_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--markdown", help="also write the table to this file")
    parser.add_argument("--server", default="", help="extra [server] lines for hookshift")
    args = parser.parse_args()
    if not args.skip_build:
        load.build()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="hookshift-ledger-size-"))
    lines = []

    def out(line=""):
        print(line, flush=True)
        lines.append(line)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    try:
        ledger_load.ensure_free(PORTS["downstream"])
        downstream = subprocess.Popen(
            [RELEASE / "examples/bench_downstream", f"127.0.0.1:{PORTS['downstream']}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ledger_load.RUNNING.append(downstream)
        load.wait_port(PORTS["downstream"], downstream)
        config = ledger_load.write_config(tmp / "file", "file", None, args.server)
        ledger = config.parent / "hookshift.ledger"
        text = presign.template()
        host = f"127.0.0.1:{PORTS['hookshift']}"
        url = f"http://127.0.0.1:{PORTS['hookshift']}{ledger_load.HOOK_PATH}"
        out(f"## Ledger size ({time.strftime('%Y-%m-%d %H:%M')}): {args.events:,} unique events of "
            f"{presign.EVENT.stat().st_size} bytes ({OLD} translated), shipped default file ledger, "
            f"batches of {args.batch:,}, {args.connections} connections")
        out()
        out("| events sent | 2xx | entries | file bytes | bytes/entry | batch bytes/new entry | mean `body` bytes | batch req/s | load avg |")
        out("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        sent = ok = delivered = 0
        previous_bytes = previous_entries = 0
        first = True
        while sent < args.events:
            count = min(args.batch, args.events - sent)
            presign.write(tmp / "batch.req", "s", sent, count, INBOUND_SECRET, ledger_load.HOOK_PATH, host, text)
            # A new process on the same file, except for the first batch (an empty ledger).
            if first:
                for stale in config.parent.glob("hookshift.ledger*"):
                    stale.unlink()
                first = False
            server = ledger_load.start_hookshift(config, "warn", log_mode="a")
            result = subprocess.run(
                [RELEASE / "examples/bench_rate_load", "--url", url, "--requests", tmp / "batch.req",
                 "--send-all", "--rate", str(RATE), "--warmup", "0", "--connections",
                 str(args.connections)], capture_output=True, text=True, check=True).stdout
            r = json.loads(result.strip().splitlines()[-1])
            seen = outcomes(PORTS["admin"])
            delivered += seen.get("delivered", 0)
            server.terminate()  # graceful: SQLite folds its WAL into the file
            server.wait(timeout=60)
            sent += count
            ok += r["ok"]
            size = sum(f.stat().st_size for f in ledger.parent.glob("hookshift.ledger*"))
            n_entries, counted_as, body = count_entries(ledger, delivered)
            per_entry = size / max(n_entries, 1)
            batch = (size - previous_bytes) / max(n_entries - previous_entries, 1)
            body_text = f"{body:,.0f}" if body is not None else "-"
            out(f"| {sent:,} | {ok:,} | {n_entries:,} | {size:,} | {per_entry:,.0f} | {batch:,.0f} | "
                f"{body_text} | {count / r['elapsed_s']:,.0f} | {os.getloadavg()[0]:.1f} |")
            if r["errors"]:
                log(f"batch ending at {sent}: {r['errors']} non-2xx or failed requests; outcomes {seen}")
            previous_bytes, previous_entries = size, n_entries
        out()
        out(f"After {sent:,} events: {size / 1e6:,.1f} MB, {per_entry:,.0f} bytes per entry "
            f"({per_entry * 1_000_000 / 1e9:,.2f} GB per million entries at this rate); entries counted as "
            f"{counted_as}; file bytes: the file with its -wal and -shm after a graceful stop; mean `body` "
            "bytes: the stored record of an entry, when the file has such a column.")
    finally:
        ledger_load.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.markdown:
        pathlib.Path(args.markdown).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
