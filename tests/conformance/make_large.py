#!/usr/bin/env python3
"""Generate the multi-megabyte golden case `extract_processed_large` of 2025-04-21_to_2026-02-09.

    python3 tests/conformance/make_large.py            # (re)write the case into the golden folder
    python3 tests/conformance/make_large.py --check    # exit 1 unless the committed files are current
    python3 tests/conformance/make_large.py --out DIR  # write it elsewhere (e.g. a temp dir)

A processor_run.processed EXTRACT event of an invoice with thousands of line items: every item has
path-keyed metadata entries (`line_items[i]`, `line_items[i].description`, ... as Extend keys them)
with citations and insights, and the file carries its full text (`contents`, dropped by the mapping).
The expected output is built here independently of the engine, from the same data, following the
mapping's documented behaviour (citation page object, insight types, config, FileSummary,
synthesized extractor fields and timestamps at delivery 1771000000): it is an oracle, not a
recording. Deterministic (fixed seed), compact JSON like a real delivery. The case is committed
only while both files stay under 5 MB (they are about 4.2 MB and 3.0 MB); past that, write it to a
temp dir at test time (run.sh does so when the committed files are absent).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "mappings" / "2025-04-21_to_2026-02-09" / "golden"
NAME = "extract_processed_large"
LIMIT = 5 * 1000 * 1000
ITEMS = 4300
PAGES = 240
DELIVERY = "2026-02-13T16:26:40Z"  # 1771000000

WORDS = ("bolt nut washer bracket hinge gasket valve pump filter cable relay fuse sensor module panel "
         "Schraube Mutter Dichtung Ventil pièce détachée écrou rondelle 螺栓 垫圈 ボルト ナット").split()


def build():
    rng = random.Random(20250421)
    items, md_in, md_out = [], {}, {}
    md_in["line_items"] = {"logprobsConfidence": 0.97}
    md_out["line_items"] = {"logprobsConfidence": 0.97}
    for i in range(ITEMS):
        page = 1 + i * PAGES // ITEMS
        y = round(80 + (i % 40) * 17.5, 2)
        desc = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
        qty = rng.randint(1, 500)
        price = round(rng.uniform(0.05, 999.99), 2)
        items.append({"sku": f"SKU-{i:05d}-{rng.randint(100, 999)}", "description": desc, "quantity": qty,
                      "unit_price": price, "amount": round(qty * price, 2)})
        poly = [{"x": 36.0, "y": y}, {"x": 560.0, "y": y}, {"x": 560.0, "y": round(y + 14.25, 2)},
                {"x": 36.0, "y": round(y + 14.25, 2)}]
        conf = round(rng.uniform(0.6, 1.0), 4)
        md_in[f"line_items[{i}]"] = {"logprobsConfidence": conf}
        md_out[f"line_items[{i}]"] = {"logprobsConfidence": conf}
        for field in ("description", "amount"):
            text = desc if field == "description" else f"{items[-1]['amount']:.2f}"
            ocr = round(rng.uniform(0.8, 1.0), 4)
            old_cit = {"page": page, "referenceText": text, "polygon": poly, "pageWidth": 612, "pageHeight": 792}
            new_cit = {"referenceText": text, "polygon": poly, "page": {"number": page, "width": 612, "height": 792}}
            entry_in = {"ocrConfidence": ocr, "logprobsConfidence": conf, "citations": [old_cit]}
            entry_out = {"ocrConfidence": ocr, "logprobsConfidence": conf, "citations": [new_cit]}
            if field == "amount" and i % 50 == 0:
                kind = "issue" if i % 100 == 0 else "reasoning"
                content = f"Line {i + 1}: quantity × unit price = {items[-1]['amount']:.2f}"
                entry_in["insights"] = [{"type": kind, "content": content}]
                entry_out["insights"] = [{"type": "reasoning", "content": content}]
            md_in[f"line_items[{i}].{field}"] = entry_in
            md_out[f"line_items[{i}].{field}"] = entry_out
    total = round(sum(it["amount"] for it in items), 2)
    value = {"invoice_number": "INV-LARGE-0001", "vendor_name": "Großhandel Müller & Söhne — 大阪支店",
             "total": total, "line_items": items}
    for key, text in (("invoice_number", "Invoice INV-LARGE-0001"), ("total", f"Total {total:.2f}")):
        cit = {"page": PAGES, "referenceText": text, "pageWidth": 612, "pageHeight": 792}
        md_in[key] = {"ocrConfidence": 0.99, "logprobsConfidence": 0.98, "citations": [cit]}
        md_out[key] = {"ocrConfidence": 0.99, "logprobsConfidence": 0.98,
                       "citations": [{"referenceText": text, "page": {"number": PAGES, "width": 612, "height": 792}}]}

    pages = []
    for p in range(1, PAGES + 1):
        lines = [f"{it['sku']} {it['description']} {it['quantity']} x {it['unit_price']:.2f} = {it['amount']:.2f}"
                 for it in items[(p - 1) * ITEMS // PAGES: p * ITEMS // PAGES]]
        text = f"Page {p} / {PAGES}\n" + "\n".join(lines)
        pages.append({"pageNumber": p, "pageWidth": 612, "pageHeight": 792, "rawText": text,
                      "markdown": "| SKU | Description | Qty | Price | Amount |\n|---|---|---|---|---|\n"
                                  + "\n".join("| " + " | ".join(l.split(" ", 1)) + " |" for l in lines)})
    raw_text = "\n\f".join(pg["rawText"] for pg in pages)

    schema = {"type": "object", "properties": {
        "invoice_number": {"type": ["string", "null"]}, "vendor_name": {"type": ["string", "null"]},
        "total": {"type": ["number", "null"]},
        "line_items": {"type": "array", "items": {"type": "object", "properties": {
            "sku": {"type": ["string", "null"]}, "description": {"type": ["string", "null"]},
            "quantity": {"type": ["number", "null"]}, "unit_price": {"type": ["number", "null"]},
            "amount": {"type": ["number", "null"]}},
            "required": ["sku", "description", "quantity", "unit_price", "amount"], "additionalProperties": False}}},
        "required": ["invoice_number", "vendor_name", "total", "line_items"], "additionalProperties": False}
    adv = {"citationsEnabled": True, "arrayCitationStrategy": "item", "arrayStrategy": {"type": "large_array_max_context"},
           "chunkingOptions": {"chunkingStrategy": "standard", "pageChunkSize": 20}}
    parser_in = {"target": "markdown", "engine": "parse_performance", "chunkingStrategy": {"type": "page"}}

    file_in = {"object": "file", "id": "file_L4rg3Inv01c3", "name": "grosshandel-müller-invoice-large.pdf", "type": "PDF",
               "presignedUrl": "https://extend-files.s3.amazonaws.com/workspace_7Hq2/file_L4rg3Inv01c3/large.pdf?X-Amz-Expires=900",
               "contents": {"rawText": raw_text, "pages": pages},
               "metadata": {"pageCount": PAGES}, "createdAt": "2025-10-20T07:59:58.120Z", "updatedAt": "2025-10-20T08:00:03.870Z",
               "usage": {"credits": PAGES}}
    file_out = {"object": "file", "id": "file_L4rg3Inv01c3", "name": "grosshandel-müller-invoice-large.pdf", "type": "PDF",
                "metadata": {"pageCount": PAGES}, "createdAt": "2025-10-20T07:59:58.120Z", "updatedAt": "2025-10-20T08:00:03.870Z"}
    run_id, pid, pvid, pname = "dpr_L4rg3Inv01c3Run", "dp_LargeInvoices", "dpv_LargeInvoices_v9", "Large invoice extractor"
    url = f"https://dashboard.extend.app/runs/{run_id}"
    metadata = {"source": "sftp", "batch": "2025-10-20"}

    old = {"eventId": "evt_L4rg3Inv01c3", "eventType": "processor_run.processed", "payload": {
        "object": "document_processor_run", "id": run_id, "processorId": pid, "processorVersionId": pvid,
        "processorName": pname, "status": "PROCESSED", "output": {"value": value, "metadata": md_in},
        "metadata": metadata, "reviewed": False, "edited": False, "edits": {}, "type": "EXTRACT",
        "config": {"type": "EXTRACT", "baseProcessor": "extraction_performance", "baseVersion": "4.6.0",
                   "schema": schema, "advancedOptions": adv, "parser": parser_in},
        "files": [file_in], "mergedProcessors": [], "url": url, "usage": {"credits": 2 * PAGES}}}
    new = {"eventId": "evt_L4rg3Inv01c3", "eventType": "extract_run.processed", "payload": {
        "object": "extract_run", "id": run_id, "status": "PROCESSED", "output": {"value": value, "metadata": md_out},
        "metadata": metadata, "reviewed": False, "edited": False, "edits": {},
        "config": {"baseProcessor": "extraction_performance", "baseVersion": "4.6.0", "schema": schema,
                   "advancedOptions": adv, "parseConfig": parser_in},
        "usage": {"credits": 2 * PAGES},
        "extractor": {"object": "extractor", "id": pid, "name": pname, "createdAt": DELIVERY, "updatedAt": DELIVERY},
        "extractorVersion": {"object": "extractor_version", "id": pvid, "version": pvid, "extractorId": pid,
                             "createdAt": DELIVERY},
        "file": file_out, "dashboardUrl": url, "createdAt": DELIVERY, "updatedAt": DELIVERY}}
    dump = lambda v: (json.dumps(v, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    return dump(old), dump(new)


def main(argv) -> int:
    ap = argparse.ArgumentParser(description="Generate the large golden case")
    ap.add_argument("--check", action="store_true", help="verify the committed files instead of writing")
    ap.add_argument("--out", type=Path, help="folder to write into (default: the step's golden folder)")
    args = ap.parse_args(argv)
    data_in, data_out = build()
    target = args.out or GOLDEN
    paths = (target / f"{NAME}.input.json", target / f"{NAME}.output.json")
    if args.check:
        stale = [p for p, data in zip(paths, (data_in, data_out)) if not p.exists() or p.read_bytes() != data]
        for p in stale:
            print(f"make_large.py: {p} is missing or not what make_large.py generates; run it to regenerate")
        return 1 if stale else 0
    target.mkdir(parents=True, exist_ok=True)
    for p, data in zip(paths, (data_in, data_out)):
        p.write_bytes(data)
        print(f"wrote {p} ({len(data) / 1e6:.2f} MB){'  OVER 5 MB: do not commit' if len(data) >= LIMIT else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
