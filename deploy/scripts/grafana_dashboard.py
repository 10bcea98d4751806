#!/usr/bin/env python3
"""Generates deploy/grafana/hookshift.json, the Grafana dashboard for a hookshift migration.

    python3 deploy/scripts/grafana_dashboard.py            # (re)write the dashboard
    python3 deploy/scripts/grafana_dashboard.py --check    # exit 1 if the committed file is stale

The JSON is the deliverable (import it in Grafana: Dashboards > New > Import); this script is its
source so that panels stay consistent. Only metric names and labels hookshift exports are used;
deploy/scripts/check_exprs.py verifies that against a live /metrics scrape.
"""
import json
import os
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "grafana", "hookshift.json")

DS = {"type": "prometheus", "uid": "${datasource}"}
R = 'route=~"$route"'
RI = "$__rate_interval"

_next_id = [0]


def nid():
    _next_id[0] += 1
    return _next_id[0]


def target(expr, legend="", ref="A", instant=False):
    t = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend or "__auto", "range": not instant}
    if instant:
        t["instant"] = True
    return t


def targets(*pairs):
    return [target(e, l, chr(ord("A") + i)) for i, (e, l) in enumerate(pairs)]


def timeseries(title, tgts, x, y, w=12, h=8, unit="short", stack=False, desc="", overrides=None, min0=True):
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never", "spanNulls": False}
    if stack:
        custom.update({"stacking": {"mode": "normal", "group": "A"}, "fillOpacity": 60})
    defaults = {"unit": unit, "custom": custom}
    if min0:
        defaults["min"] = 0
    return {
        "id": nid(), "type": "timeseries", "title": title, "description": desc, "datasource": DS,
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "targets": tgts,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": {"legend": {"displayMode": "table", "placement": "right", "calcs": ["mean", "max", "lastNotNull"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
    }


def stat(title, tgts, x, y, w=6, h=5, unit="short", desc="", thresholds=None, mappings=None, decimals=None):
    defaults = {"unit": unit, "color": {"mode": "thresholds"},
                "thresholds": {"mode": "absolute", "steps": thresholds or [{"color": "blue", "value": None}]},
                "mappings": mappings or []}
    if decimals is not None:
        defaults["decimals"] = decimals
    return {
        "id": nid(), "type": "stat", "title": title, "description": desc, "datasource": DS,
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "targets": tgts,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "background", "graphMode": "area", "textMode": "auto", "justifyMode": "auto",
                    "orientation": "auto"},
    }


def row(title, y, repeat=None):
    r = {"id": nid(), "type": "row", "title": title, "collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
         "panels": []}
    if repeat:
        r["repeat"] = repeat
    return r


def color_override(name, color):
    return {"matcher": {"id": "byName", "options": name},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}]}


OUTCOME_COLORS = [("delivered", "green"), ("acked", "blue"), ("rejected", "orange"), ("unauthorized", "red"),
                  ("unmapped", "purple"), ("errors", "dark-red")]
ERRORS = "translation_error|downstream_error|invalid|too_large"


def build():
    panels = []
    y = 0

    # ------------------------------------------------------------------ overview
    panels.append(row("Migration overview", y)); y += 1
    panels.append(stat(
        "Deliveries still from $old_version",
        [target(f'(sum(rate(hookshift_events_total{{{R},api_version="$old_version",outcome="delivered"}}[{RI}])) or vector(0))'
                f' / sum(rate(hookshift_events_total{{{R},outcome="delivered"}}[{RI}]))', "share")],
        0, y, w=6, unit="percentunit", decimals=1,
        desc="Share of the events delivered to the handler that came from the old endpoint. Stages 1-2: 100%. "
             "From stage 3 on it must be 0%: the handler is fed by the new endpoint only.",
        thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 0.001}]))
    panels.append(stat(
        "Received from $old_version",
        [target(f'(sum(rate(hookshift_events_received_total{{{R},api_version="$old_version"}}[{RI}])) or vector(0))'
                f' / sum(rate(hookshift_events_received_total{{{R}}}[{RI}]))', "share")],
        6, y, w=6, unit="percentunit", decimals=1,
        desc="Share of the received events sent by the old endpoint. With both endpoints enabled (stages 2-4) "
             "it is about 50% (each event is sent twice); 0% once the old endpoint is disabled (stage 5)."))
    panels.append(stat(
        "Last config reload",
        [target("min(hookshift_config_last_reload_success)", "ok")],
        12, y, w=4,
        desc="hookshift_config_last_reload_success, worst instance: 1 = the last reload (SIGHUP or file change) "
             "was applied, 0 = it was refused and the previous config still runs.",
        thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}],
        mappings=[{"type": "value", "options": {"0": {"text": "FAILED", "index": 0},
                                                 "1": {"text": "OK", "index": 1}}}]))
    panels.append(stat(
        "Time since last reload",
        [target("time() - max(hookshift_config_last_reload_timestamp_seconds)", "age")],
        16, y, w=4, unit="s",
        desc="Seconds since the most recent reload attempt of any instance (hookshift_config_last_reload_timestamp_seconds)."))
    panels.append(stat(
        "In flight",
        [target(f"sum(hookshift_inflight_requests{{{R}}})", "in flight")],
        20, y, w=4, desc="Requests being handled right now (hookshift_inflight_requests)."))
    y += 5
    panels.append(timeseries(
        "Events received by API version",
        [target(f"sum by (api_version) (rate(hookshift_events_received_total{{{R}}}[{RI}]))", "{{api_version}}")],
        0, y, unit="reqps",
        desc="hookshift_events_received_total: events per second per sending endpoint version (?api_version=)."))
    panels.append(timeseries(
        "Outcomes by API version",
        [target(f"sum by (api_version, outcome) (rate(hookshift_events_total{{{R}}}[{RI}]))",
                "{{api_version}} {{outcome}}")],
        12, y, unit="reqps", stack=True,
        desc="hookshift_events_total by sending version and outcome. Stage 2: old=delivered, new=acked. "
             "Stage 3/4: old=rejected, new=delivered. Stage 5: new=delivered only."))
    y += 8
    panels.append(timeseries(
        "Share of deliveries from $old_version over time",
        [target(f'(sum(rate(hookshift_events_total{{{R},api_version="$old_version",outcome="delivered"}}[{RI}])) or vector(0))'
                f' / sum(rate(hookshift_events_total{{{R},outcome="delivered"}}[{RI}]))', "delivered from $old_version"),
         target(f'(sum(rate(hookshift_events_received_total{{{R},api_version="$old_version"}}[{RI}])) or vector(0))'
                f' / sum(rate(hookshift_events_received_total{{{R}}}[{RI}]))', "received from $old_version", "B")],
        0, y, unit="percentunit"))
    panels.append(timeseries(
        "Config reloads",
        [target("sum by (result) (increase(hookshift_config_reloads_total[$__rate_interval]))", "{{result}}"),
         target("min(hookshift_config_last_reload_success)", "last reload ok (1/0)", "B")],
        12, y, unit="short",
        overrides=[color_override("success", "green"), color_override("failure", "red")],
        desc="hookshift_config_reloads_total by result; a failure keeps the running config."))
    y += 8

    # ------------------------------------------------------------------ per API version (repeated)
    panels.append(row("API version $api_version", y, repeat="api_version")); y += 1
    V = f'{R},api_version=~"$api_version"'
    panels.append(timeseries(
        "$api_version: events received by type",
        [target(f"sum by (event_type) (rate(hookshift_events_received_total{{{V}}}[{RI}]))", "{{event_type}}")],
        0, y, w=8, unit="reqps"))
    panels.append(timeseries(
        "$api_version: outcomes",
        targets(*[(f'sum(rate(hookshift_events_total{{{V},outcome="{o}"}}[{RI}]))', o)
                  for o, _ in OUTCOME_COLORS[:-1]],
                (f'sum(rate(hookshift_events_total{{{V},outcome=~"{ERRORS}"}}[{RI}]))', "errors")),
        8, y, w=8, unit="reqps", stack=True,
        overrides=[color_override(o, c) for o, c in OUTCOME_COLORS],
        desc="errors = translation_error + downstream_error + invalid + too_large."))
    panels.append(timeseries(
        "$api_version: errors by outcome and event type",
        [target(f'sum by (outcome, event_type) (rate(hookshift_events_total{{{V},outcome=~"unauthorized|unmapped|{ERRORS}"}}[{RI}]))',
                "{{outcome}} {{event_type}}")],
        16, y, w=8, unit="reqps"))
    y += 8
    for i, (o, c) in enumerate(OUTCOME_COLORS):
        sel = f'outcome=~"{ERRORS}"' if o == "errors" else f'outcome="{o}"'
        bad = o in ("unauthorized", "unmapped", "errors")
        panels.append(stat(
            f"$api_version: {o} (range)",
            [target(f"sum(increase(hookshift_events_total{{{V},{sel}}}[$__range]))", o, instant=True)],
            4 * i, y, w=4, h=4, decimals=0,
            thresholds=([{"color": "green", "value": None}, {"color": "red", "value": 1}] if bad
                        else [{"color": c, "value": None}])))
    y += 4

    # ------------------------------------------------------------------ delivery
    panels.append(row("Delivery to the handler", y)); y += 1
    q = [(f"histogram_quantile({p}, sum by (target_version, le) (rate(hookshift_delivery_duration_seconds_bucket{{{R}}}[{RI}])))",
          f"p{int(p * 100)} to {{{{target_version}}}}") for p in (0.5, 0.9, 0.99)]
    panels.append(timeseries("Delivery latency quantiles by target version", targets(*q), 0, y, unit="s",
                             desc="hookshift_delivery_duration_seconds: receive to handler answer."))
    panels.append(timeseries(
        "Handler responses by status class",
        [target(f"sum by (status_class) (rate(hookshift_downstream_responses_total{{{R}}}[{RI}]))", "{{status_class}}")],
        12, y, unit="reqps", stack=True,
        overrides=[color_override("2xx", "green"), color_override("4xx", "orange"), color_override("5xx", "red"),
                   color_override("timeout", "dark-red"), color_override("connect_error", "purple")]))
    y += 8
    q = [(f"histogram_quantile({p}, sum by (le) (rate(hookshift_translation_duration_seconds_bucket{{{R}}}[{RI}])))",
          f"p{int(p * 100)}") for p in (0.5, 0.99)]
    panels.append(timeseries("Translation latency quantiles", targets(*q), 0, y, unit="s"))
    panels.append(timeseries(
        "Mean delivery latency by route and target version",
        [target(f"sum by (route, target_version) (rate(hookshift_delivery_duration_seconds_sum{{{R}}}[{RI}]))"
                f" / sum by (route, target_version) (rate(hookshift_delivery_duration_seconds_count{{{R}}}[{RI}]))",
                "{{route}} -> {{target_version}}")],
        12, y, unit="s"))
    y += 8

    # ------------------------------------------------------------------ shadow comparison (ledger)
    panels.append(row("Shadow comparison of twins (ledger)", y)); y += 1
    panels.append(timeseries(
        "Match ratio by event type",
        [target(f'sum by (event_type) (rate(hookshift_shadow_pairs_total{{{R},result="match"}}[{RI}]))'
                f' / sum by (event_type) (rate(hookshift_shadow_pairs_total{{{R}}}[{RI}]))', "{{event_type}}")],
        0, y, unit="percentunit",
        desc="hookshift_shadow_pairs_total: of the twins compared (the copy hookshift translated next to the copy "
             "the new endpoint sent), the share that matched field for field outside the paths the mapping "
             "synthesises. Stage 2 -> 3 needs it at (or very near) 100% per event type: see docs/migration.md."))
    panels.append(timeseries(
        "Top mismatched paths",
        [target(f"topk(10, sum by (event_type, path) (increase(hookshift_shadow_mismatched_paths_total{{{R}}}[$__range])))",
                "{{event_type}} {{path}}", instant=True)],
        12, y, unit="short",
        desc="hookshift_shadow_mismatched_paths_total: where compared twins differed. Each path is a mapping "
             "guess to check (hookshift shadow report names an example pair)."))
    y += 8
    panels.append(timeseries(
        "Twins unpaired, comparisons skipped",
        [target(f"sum by (side) (rate(hookshift_shadow_unpaired_total{{{R}}}[{RI}]))", "unpaired {{side}}"),
         target(f"sum by (reason) (rate(hookshift_shadow_skipped_total{{{R}}}[{RI}]))", "skipped {{reason}}", "B")],
        0, y, unit="reqps",
        desc="A first copy whose twin never came within ledger.retention_hours (unpaired), or a copy not "
             "compared (overloaded, ledger_error)."))
    panels.append(timeseries(
        "Ledger entries and errors",
        [target("sum by (backend) (hookshift_ledger_entries)", "entries {{backend}}"),
         target("sum by (backend, operation) (rate(hookshift_ledger_errors_total[$__rate_interval]))",
                "errors {{backend}} {{operation}}", "B")],
        12, y, unit="short",
        desc="hookshift_ledger_entries and hookshift_ledger_errors_total: a failing ledger never stops deliveries, "
             "but pairing, comparison and exactly-once are off while it fails."))
    y += 8
    panels.append(stat("Versions running",
                       [target("count by (version) (hookshift_build_info)", "{{version}}", instant=True)],
                       0, y, w=24, h=4, desc="Instances per hookshift build (hookshift_build_info)."))

    return {
        "uid": "hookshift-migration",
        "title": "hookshift: webhook API-version migration",
        "description": "Extend webhooks 2025-04-21 -> 2026-02-09 through hookshift. See docs/migration.md.",
        "tags": ["hookshift", "webhooks", "migration"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "annotations": {"list": [
            {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
             "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"},
            {"datasource": DS, "enable": True, "iconColor": "orange", "name": "Config reloads",
             "expr": "changes(hookshift_config_last_reload_timestamp_seconds[2m]) > 0",
             "step": "1m", "titleFormat": "config reload", "textFormat": "{{instance}}"},
        ]},
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "refresh": 1, "options": []},
            {"name": "route", "label": "Route", "type": "query", "datasource": DS,
             "query": {"query": "label_values(hookshift_events_received_total, route)", "refId": "route"},
             "definition": "label_values(hookshift_events_received_total, route)",
             "multi": True, "includeAll": True, "allValue": ".*", "current": {}, "refresh": 2, "sort": 1,
             "options": []},
            {"name": "api_version", "label": "API version", "type": "query", "datasource": DS,
             "query": {"query": 'label_values(hookshift_events_received_total{route=~"$route"}, api_version)',
                       "refId": "api_version"},
             "definition": 'label_values(hookshift_events_received_total{route=~"$route"}, api_version)',
             "multi": True, "includeAll": True, "current": {}, "refresh": 2, "sort": 1, "options": []},
            {"name": "old_version", "label": "Old version", "type": "custom", "query": "2025-04-21,2026-02-09",
             "current": {"selected": True, "text": "2025-04-21", "value": "2025-04-21"},
             "options": [{"selected": True, "text": "2025-04-21", "value": "2025-04-21"},
                         {"selected": False, "text": "2026-02-09", "value": "2026-02-09"}],
             "multi": False, "includeAll": False, "hide": 0,
             "description": "The version being migrated away from (2026-02-09 for a reverse, legacy-handler route)."},
        ]},
        "panels": panels,
    }


def render():
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main():
    text = render()
    if "--check" in sys.argv[1:]:
        try:
            cur = open(OUT, encoding="utf-8").read()
        except FileNotFoundError:
            cur = ""
        if cur != text:
            print(f"{os.path.relpath(OUT)} is stale: run python3 deploy/scripts/grafana_dashboard.py", file=sys.stderr)
            return 1
        print(f"{os.path.relpath(OUT)} is up to date")
        return 0
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {os.path.relpath(OUT)} ({len(build()['panels'])} panels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
