#!/usr/bin/env python3
"""Writes the benchmark events to bench/events/ (deterministic; run from anywhere).

Starting from the golden `extract_run.processed` event (API 2026-02-09), it grows the extraction output
(line items with per-field metadata and citations, as a real invoice extraction carries) until the
2025-04-21 form reaches 5 KiB / 100 KiB of compact JSON, and writes:

  extract_run_5k.json / extract_run_100k.json      2026-02-09 `extract_run.processed`
  processor_run_5k.json / processor_run_100k.json  2025-04-21 `processor_run.processed` (type EXTRACT),
                                                   made by `hookshift translate` from the files above

Bodies are compact JSON (what senders post). Numbers include a 20-digit decimal that must survive
translation byte for byte.

Usage: bench/make_events.py [--hookshift target/release/hookshift]
"""

import argparse
import json
import re
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "mappings/2026-02-09_to_2025-04-21/golden/extract_processed.input.json"
OUT = ROOT / "bench/events"
TARGETS = {"5k": 5 * 1024, "100k": 100 * 1024}
DELIVERY_TS = 1771000000


def compact(event):
    text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    # Exact numbers were dumped as strings "\u0000<digits>": put the digits back unquoted.
    return re.sub(r'"\\u0000([-+0-9.eE]+)"', r"\1", text).encode()


def load(text):
    return json.loads(text, parse_float=lambda s: "\0" + s)


def line_item(i):
    return {
        "description": f"Position {i + 1}: Wartungsvertrag Anlage {i % 7 + 1} – Leistungszeitraum Q{i % 4 + 1}",
        "sku": f"SKU-{4100 + i:05d}",
        "quantity": (i % 5) + 1,
        "unit_price": round(17.5 + (i * 3.25) % 400, 2),
        "amount": round(((i % 5) + 1) * (17.5 + (i * 3.25) % 400), 2),
        "tax_rate": 0.19,
    }


def citation(i, page):
    x, y = 0.08 + (i % 3) * 0.2, 0.1 + (i % 40) * 0.02
    return {
        "referenceText": f"Pos. {i + 1} Wartungsvertrag",
        "page": {"number": page, "width": 612, "height": 792},
        "polygon": [
            {"x": round(x, 4), "y": round(y, 4)},
            {"x": round(x + 0.3, 4), "y": round(y, 4)},
            {"x": round(x + 0.3, 4), "y": round(y + 0.015, 4)},
            {"x": round(x, 4), "y": round(y + 0.015, 4)},
        ],
    }


def grow(base, target):
    """Adds line items (and their metadata) until the compact event is at least `target` bytes."""
    event = load(compact(base))
    output = event["payload"]["output"]
    items = output["value"]["line_items"]
    metadata = output["metadata"]
    i = len(items)
    while len(compact(event)) < target:
        items.append(line_item(i))
        metadata[f"line_items[{i}]"] = {
            "ocrConfidence": round(0.9 + (i % 10) / 100, 2),
            "logprobsConfidence": round(0.85 + (i % 7) / 100, 2),
            "citations": [citation(i, 1 + i // 30)],
        }
        i += 1
    event["payload"]["file"]["metadata"]["pageCount"] = 1 + i // 30
    return event


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hookshift", default=str(ROOT / "target/release/hookshift"))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    base = load(GOLDEN.read_text())
    for name, target in TARGETS.items():
        new_path = OUT / f"extract_run_{name}.json"

        def down(event):
            new_path.write_bytes(compact(event))
            return subprocess.run(
                [args.hookshift, "translate", "--from", "2026-02-09", "--to", "2025-04-21",
                 "--mappings", str(ROOT / "mappings"), "--timestamp", str(DELIVERY_TS),
                 "--compact", str(new_path)],
                check=True, capture_output=True,
            ).stdout.strip()

        # Size the 2025-04-21 event (what the default configuration translates) to the target.
        event = grow(base, target)
        shrink = len(compact(event)) - len(down(event))
        event = grow(base, target + shrink)
        translated = down(event)
        old = load(translated)
        assert old["eventType"] == "processor_run.processed" and old["payload"]["type"] == "EXTRACT"
        old_path = OUT / f"processor_run_{name}.json"
        old_path.write_bytes(translated)
        for path in (new_path, old_path):
            print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
