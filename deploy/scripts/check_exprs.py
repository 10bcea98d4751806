#!/usr/bin/env python3
"""Checks that every PromQL expression of the Grafana dashboard and the alert rules uses only metric
names and labels that a live hookshift exports.

    python3 deploy/scripts/check_exprs.py --metrics http://127.0.0.1:9464/metrics \
        [--dashboard deploy/grafana/hookshift.json] [--rules deploy/prometheus/alerts.yml]

--metrics takes a URL or a file holding a /metrics scrape. Scrape it after traffic has made the
series exist (deploy/scripts/e2e.py does). Checked for each expression:
  * each metric name is a sample name of the scrape (histograms by _bucket/_sum/_count), or a series
    Prometheus itself makes (up, ALERTS), or a recording rule of the rules file;
  * each label in a {matcher} exists on that metric; each by/on/... label exists on one of the
    expression's metrics (job and instance, added by the scrape, always exist);
  * values matched for the bounded labels outcome, status_class and result are values hookshift
    documents.
Also: every metric family hookshift documents is present in the scrape.
"""
import argparse
import json
import os
import re
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promql_names as pq  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.dirname(HERE)

# The metric families hookshift documents (README "Metrics"); all must be in a scrape taken after traffic.
DOCUMENTED = {
    "hookshift_events_received_total": {"route", "api_version", "event_type"},
    "hookshift_events_total": {"route", "api_version", "target_version", "event_type", "outcome"},
    "hookshift_delivery_duration_seconds_bucket": {"route", "target_version", "le"},
    "hookshift_delivery_duration_seconds_sum": {"route", "target_version"},
    "hookshift_delivery_duration_seconds_count": {"route", "target_version"},
    "hookshift_translation_duration_seconds_bucket": {"route", "le"},
    "hookshift_translation_duration_seconds_sum": {"route"},
    "hookshift_translation_duration_seconds_count": {"route"},
    "hookshift_downstream_responses_total": {"route", "status_class"},
    "hookshift_inflight_requests": {"route"},
    "hookshift_signed_url_fetches_total": {"route", "result"},
    "hookshift_signed_url_fetch_duration_seconds_bucket": {"route", "le"},
    "hookshift_signed_url_fetch_duration_seconds_sum": {"route"},
    "hookshift_signed_url_fetch_duration_seconds_count": {"route"},
    "hookshift_config_reloads_total": {"result"},
    "hookshift_config_last_reload_success": set(),
    "hookshift_config_last_reload_timestamp_seconds": set(),
    "hookshift_build_info": {"version"},
    "hookshift_unmapped_fields_total": {"route", "event_type", "path", "fate"},
    "hookshift_drift_scans_skipped_total": {"route"},
    "hookshift_requests_shed_total": {"route", "reason"},
    "hookshift_buffered_body_bytes": set(),
    "hookshift_shadow_pairs_total": {"route", "event_type", "result"},
    "hookshift_shadow_mismatched_paths_total": {"route", "event_type", "path"},
    "hookshift_shadow_unpaired_total": {"route", "event_type", "side"},
    "hookshift_shadow_skipped_total": {"route", "reason"},
    "hookshift_ledger_entries": {"backend"},
    "hookshift_ledger_errors_total": {"backend", "operation"},
    "hookshift_ledger_evicted_total": {"backend", "reason"},
    "hookshift_invalid_output_total": {"route", "event_type", "path"},
    "hookshift_quarantined_total": {"route", "result"},
    "hookshift_quarantine_events": {"backend"},
    "hookshift_quarantine_bytes": {"backend"},
    "hookshift_quarantine_replays_total": {"route", "result"},
    "hookshift_output_checks_skipped_total": {"route"},
}
BOUNDED = {
    "outcome": {"delivered", "acked", "rejected", "unauthorized", "invalid", "too_large", "overloaded",
                "unmapped", "translation_error", "downstream_error", "signed_url_unavailable",
                "duplicate", "delivered_for_twin", "twin_in_flight", "quarantined",
                "ledger_unavailable"},
    "status_class": {"2xx", "3xx", "4xx", "5xx", "timeout", "connect_error"},
    "result": {"success", "failure"},
    "fate": {"dropped", "carried"},
}
# A bounded label whose values differ for one family.
BOUNDED_FOR = {
    ("hookshift_signed_url_fetches_total", "result"): {
        "ok", "disabled", "invalid_url", "refused_host", "too_many_redirects", "timeout", "status",
        "too_large", "invalid_json", "connect_error"},
    ("hookshift_requests_shed_total", "reason"): {
        "declared_body", "streamed_body", "translation", "signed_url"},
    ("hookshift_shadow_pairs_total", "result"): {"match", "mismatch"},
    ("hookshift_quarantined_total", "result"): {"stored", "exists", "full", "error"},
    ("hookshift_quarantine_replays_total", "result"): {"delivered", "duplicate", "failed"},
}


def allowed(name, lab):
    """The values hookshift uses for bounded label `lab` of metric `name`."""
    return BOUNDED_FOR.get((name, lab), BOUNDED[lab])
TARGET_LABELS = {"job", "instance"}
PROMETHEUS_SERIES = {"up": set(), "ALERTS": {"alertname", "alertstate", "severity", "route", "api_version",
                                               "target_version", "event_type"}}
# Values substituted for the dashboard's own template variables before parsing.
DASHBOARD_VARS = {"route": ".*", "api_version": ".*", "old_version": "2025-04-21", "datasource": "x"}


def load_yaml(path):
    try:
        import yaml  # PyYAML when present
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except ImportError:
        return None


def dashboard_exprs(path):
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((f"panel {p['id']} {p.get('title')!r} {t['refId']}", t["expr"]))
            walk(p.get("panels", []))
    walk(d.get("panels", []))
    for a in d.get("annotations", {}).get("list", []):
        if a.get("expr"):
            out.append((f"annotation {a['name']!r}", a["expr"]))
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)", q.strip())
            if not m:
                out.append((f"variable {v['name']}", q))
            else:
                out.append((f"variable {v['name']}", f"count by ({m.group(2)}) ({m.group(1)})"))
    return [(where, pq.substitute(e, DASHBOARD_VARS)) for where, e in out]


def rules_exprs(path):
    """-> ([(where, expr)], set of recorded metric names). Reads the YAML with PyYAML, else by lines."""
    data = load_yaml(path)
    out, recorded = [], set()
    if data is not None:
        for g in data.get("groups", []):
            for r in g.get("rules", []):
                name = r.get("alert") or r.get("record")
                if r.get("record"):
                    recorded.add(r["record"])
                out.append((f"rule {name}", str(r["expr"])))
        return out, recorded
    raise SystemExit("PyYAML is needed to read the rules file (python3 -m pip install pyyaml, or apt-get install python3-yaml)")


def check(expr, where, labels, values, recorded, require_metric=True):
    errors = []
    try:
        metrics, grouping, loose = pq.extract(expr)
    except (ValueError, IndexError) as e:
        return [f"{where}: cannot parse {expr!r}: {e}"]
    if not metrics and require_metric:
        errors.append(f"{where}: no metric name in {expr!r}")
    known_labels = set(TARGET_LABELS)
    for name, matchers in metrics.items():
        if name in recorded:
            known_labels |= {lab for lab, _, _ in matchers}
            continue
        if name in PROMETHEUS_SERIES:
            have = PROMETHEUS_SERIES[name] | TARGET_LABELS
        elif name in labels:
            have = labels[name] | TARGET_LABELS
        else:
            hint = ""
            if any(k.startswith(name + "_") for k in labels):
                hint = " (a histogram: use _bucket, _sum or _count)"
            errors.append(f"{where}: metric {name} is not exported by hookshift{hint}")
            continue
        known_labels |= have
        for lab, op, val in matchers:
            if lab not in have:
                errors.append(f"{where}: {name} has no label {lab!r} (it has {sorted(have)})")
            if lab in BOUNDED and name.startswith("hookshift_"):
                if op in ("=", "!="):
                    vals = [val]
                elif re.fullmatch(r"[A-Za-z0-9_|]+", val):
                    vals = val.split("|")
                else:
                    vals = []
                for v in vals:
                    if v not in allowed(name, lab):
                        errors.append(f"{where}: {lab}={v!r} is not a value hookshift uses ({sorted(allowed(name, lab))})")
    for lab in sorted(grouping):
        if lab not in known_labels:
            errors.append(f"{where}: grouping label {lab!r} is on none of {sorted(metrics)}")
    for lab, _, _ in loose:
        if lab not in known_labels:
            errors.append(f"{where}: label {lab!r} is on none of {sorted(metrics)}")
    return errors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--metrics", required=True, help="URL or file of a /metrics scrape")
    ap.add_argument("--dashboard", default=os.path.join(DEPLOY, "grafana", "hookshift.json"))
    ap.add_argument("--rules", default=os.path.join(DEPLOY, "prometheus", "alerts.yml"))
    ap.add_argument("--no-documented", action="store_true", help="skip the check that every documented family is present")
    args = ap.parse_args()

    if re.match(r"https?://", args.metrics):
        with urllib.request.urlopen(args.metrics, timeout=10) as r:
            text = r.read().decode()
    else:
        with open(args.metrics, encoding="utf-8") as f:
            text = f.read()
    labels, values, _types = pq.parse_exposition(text)

    errors = []
    if not args.no_documented:
        for name, want in DOCUMENTED.items():
            if name not in labels:
                errors.append(f"scrape: documented metric {name} is missing")
            elif not want <= labels[name]:
                errors.append(f"scrape: {name} lacks labels {sorted(want - labels[name])}")
        for lab in BOUNDED:
            for name, vals in values.items():
                ok = allowed(name, lab)
                if name.startswith("hookshift_") and lab in vals and not vals[lab] <= ok:
                    errors.append(f"scrape: {name} has {lab} values {sorted(vals[lab] - ok)} outside {sorted(ok)}")

    exprs = dashboard_exprs(args.dashboard)
    rexprs, recorded = rules_exprs(args.rules)
    exprs += rexprs
    passed = 0
    for where, expr in exprs:
        # a recording rule may be a constant (vector(1)); a dashboard query without a metric is a mistake
        errs = check(expr, where, labels, values, recorded, require_metric=not where.startswith("rule "))
        if errs:
            errors.extend(errs)
        else:
            passed += 1
    for e in errors:
        print("FAIL", e)
    print(f"check_exprs: {passed} of {len(exprs)} expressions use only exported metric names and labels "
          f"({len([n for n in labels if n.startswith('hookshift_')])} hookshift series names in the scrape)")
    print(f"expressions: {passed} passed, {len(exprs) - passed} failed")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
