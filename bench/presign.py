"""Pre-signed unique events for the ledger benchmarks (bench/load.py --ledger, bench/ledger_size.py).

The ledger keeps state per event, so a benchmark that sends one signed body again and again measures
duplicates, not the ledger. Here every request is its own event: the 5 KB 2025-04-21
`processor_run.processed` of bench/events/ with its own `eventId` and its own run id (`payload.id`,
the ledger's identity of a run, replaced everywhere it occurs, so the run's dashboard URL names it
too), signed with the Extend scheme at generation time. The ids keep the original lengths, so every
body has the original's size.

File format, read by bench/unique.lua (wrk) and bench/rate_load.rs (--requests): one record per
request, `<length>\\n` followed by `<length>` bytes of a complete HTTP/1.1 request (request line,
headers with Content-Length, body). The same records go to every configuration of a run, each
configuration starting from an empty ledger.
"""

import hashlib
import hmac
import pathlib
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
EVENT = ROOT / "bench/events/processor_run_5k.json"
TEMPLATE_EVENT_ID = "evt_Ex1aQ9zR3mP7"
TEMPLATE_RUN_ID = "exr_Xj8mK2pL9nR4vT7qY5wZ"


def template(path=EVENT):
    body = path.read_text()
    if body.count(f'"eventId":"{TEMPLATE_EVENT_ID}"') != 1 or TEMPLATE_RUN_ID not in body:
        raise SystemExit(f"{path} is not the benchmark event (eventId {TEMPLATE_EVENT_ID}, run {TEMPLATE_RUN_ID})")
    return body


def ids(tag, n):
    """eventId and run id of event n of set `tag`, as long as the template's."""
    suffix_event = len(TEMPLATE_EVENT_ID) - len("evt_")
    suffix_run = len(TEMPLATE_RUN_ID) - len("exr_")
    event = f"evt_{tag}{n:0{suffix_event - len(tag)}d}"
    run = f"exr_{tag}{n:0{suffix_run - len(tag)}d}"
    assert len(event) == len(TEMPLATE_EVENT_ID) and len(run) == len(TEMPLATE_RUN_ID), (tag, n)
    return event, run


def body_of(text, tag, n):
    event, run = ids(tag, n)
    return (text.replace(TEMPLATE_EVENT_ID, event, 1).replace(TEMPLATE_RUN_ID, run)).encode()


def record(body, secret, ts, path, host):
    sig = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"x-extend-request-timestamp: {ts}\r\nx-extend-request-signature: {sig}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    request = head + body
    return str(len(request)).encode() + b"\n" + request


def write(out, tag, start, count, secret, path, host, text=None):
    """Writes `count` requests (events start .. start+count-1 of set `tag`) to the file `out`."""
    text = text or template()
    ts = str(int(time.time()))
    with open(out, "wb") as f:
        for n in range(start, start + count):
            f.write(record(body_of(text, tag, n), secret, ts, path, host))
    return out
