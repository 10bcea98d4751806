#!/usr/bin/env python3
"""Offline tests of the helper scripts: the PromQL name extraction, and that check_exprs.py really
fails on a wrong metric name, label or label value (so a green check means something).

    python3 deploy/scripts/selftest.py
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import promql_names as pq  # noqa: E402
import check_exprs  # noqa: E402

# A scrape with every documented family, as hookshift would export after some traffic.
SCRAPE = """\
# TYPE hookshift_events_received_total counter
hookshift_events_received_total{route="extend",api_version="2025-04-21",event_type="processor_run.processed"} 3
# TYPE hookshift_events_total counter
hookshift_events_total{route="extend",api_version="2025-04-21",target_version="2026-02-09",event_type="processor_run.processed",outcome="delivered"} 3
# TYPE hookshift_delivery_duration_seconds histogram
hookshift_delivery_duration_seconds_bucket{route="extend",target_version="2026-02-09",le="0.1"} 3
hookshift_delivery_duration_seconds_bucket{route="extend",target_version="2026-02-09",le="+Inf"} 3
hookshift_delivery_duration_seconds_sum{route="extend",target_version="2026-02-09"} 0.03
hookshift_delivery_duration_seconds_count{route="extend",target_version="2026-02-09"} 3
# TYPE hookshift_translation_duration_seconds histogram
hookshift_translation_duration_seconds_bucket{route="extend",le="+Inf"} 3
hookshift_translation_duration_seconds_sum{route="extend"} 0.001
hookshift_translation_duration_seconds_count{route="extend"} 3
# TYPE hookshift_downstream_responses_total counter
hookshift_downstream_responses_total{route="extend",status_class="2xx"} 3
# TYPE hookshift_inflight_requests gauge
hookshift_inflight_requests{route="extend"} 0
# TYPE hookshift_signed_url_fetches_total counter
hookshift_signed_url_fetches_total{route="extend",result="ok"} 1
# TYPE hookshift_signed_url_fetch_duration_seconds histogram
hookshift_signed_url_fetch_duration_seconds_bucket{route="extend",le="+Inf"} 1
hookshift_signed_url_fetch_duration_seconds_sum{route="extend"} 0.02
hookshift_signed_url_fetch_duration_seconds_count{route="extend"} 1
# TYPE hookshift_unmapped_fields_total counter
hookshift_unmapped_fields_total{route="extend",event_type="processor_run.processed",path="payload.files[*]",fate="dropped"} 1
# TYPE hookshift_drift_scans_skipped_total counter
hookshift_drift_scans_skipped_total{route="extend"} 0
# TYPE hookshift_output_checks_skipped_total counter
hookshift_output_checks_skipped_total{route="extend"} 0
# TYPE hookshift_requests_shed_total counter
hookshift_requests_shed_total{route="extend",reason="declared_body"} 0
# TYPE hookshift_buffered_body_bytes gauge
hookshift_buffered_body_bytes 0
# TYPE hookshift_config_reloads_total counter
hookshift_config_reloads_total{result="success"} 1
# TYPE hookshift_config_last_reload_success gauge
hookshift_config_last_reload_success 1
# TYPE hookshift_config_last_reload_timestamp_seconds gauge
hookshift_config_last_reload_timestamp_seconds 1.7e9
# TYPE hookshift_build_info gauge
hookshift_build_info{version="0.1.0"} 1
# TYPE hookshift_shadow_pairs_total counter
hookshift_shadow_pairs_total{route="extend",event_type="extract_run.processed",result="match"} 2
# TYPE hookshift_shadow_mismatched_paths_total counter
hookshift_shadow_mismatched_paths_total{route="extend",event_type="extract_run.processed",path="other"} 0
# TYPE hookshift_shadow_unpaired_total counter
hookshift_shadow_unpaired_total{route="extend",event_type="extract_run.processed",side="native"} 0
# TYPE hookshift_shadow_skipped_total counter
hookshift_shadow_skipped_total{route="extend",reason="overloaded"} 0
# TYPE hookshift_ledger_entries gauge
hookshift_ledger_entries{backend="file"} 2
# TYPE hookshift_ledger_errors_total counter
hookshift_ledger_errors_total{backend="file",operation="claim"} 0
# TYPE hookshift_ledger_evicted_total counter
hookshift_ledger_evicted_total{backend="file",reason="retention"} 0
# TYPE hookshift_invalid_output_total counter
hookshift_invalid_output_total{route="extend",event_type="other",path="other"} 0
# TYPE hookshift_quarantined_total counter
hookshift_quarantined_total{route="extend",result="stored"} 0
# TYPE hookshift_quarantine_events gauge
hookshift_quarantine_events{backend="file"} 0
# TYPE hookshift_quarantine_bytes gauge
hookshift_quarantine_bytes{backend="file"} 0
# TYPE hookshift_quarantine_replays_total counter
hookshift_quarantine_replays_total{route="extend",result="delivered"} 0
"""


class Extract(unittest.TestCase):
    def test_names_and_labels(self):
        m, g, loose = pq.extract('sum by (route) (rate(a_total{outcome="x",route=~"$r"}[5m])) / on (route) group_left '
                                 'sum without (le) (b) unless {__name__="c", q="1"} offset 5m > bool 0.5 or vector(1)')
        self.assertEqual(set(m), {"a_total", "b", "c"})
        self.assertEqual(m["a_total"], [("outcome", "=", "x"), ("route", "=~", "$r")])
        self.assertEqual(g, {"route", "le"})
        self.assertEqual(loose, [])

    def test_keywords_are_not_metrics(self):
        m, g, _ = pq.extract("histogram_quantile(0.99, sum(rate(x_bucket[1m])) by (le)) > Inf and time() - max(y) > 1e3")
        self.assertEqual(set(m), {"x_bucket", "y"})
        self.assertEqual(g, {"le"})

    def test_strings_with_operators(self):
        m, _, _ = pq.extract('count(a{b=~"x|y{z}", c!="}"})')
        self.assertEqual(m, {"a": [("b", "=~", "x|y{z}"), ("c", "!=", "}")]})

    def test_substitute(self):
        self.assertEqual(pq.substitute('rate(a{r=~"$route"}[$__rate_interval])', {"route": ".*"}), 'rate(a{r=~".*"}[5m])')
        with self.assertRaises(ValueError):
            pq.substitute("rate(a[$unknown])")

    def test_exposition(self):
        labels, values, types = pq.parse_exposition(SCRAPE)
        self.assertEqual(labels["hookshift_delivery_duration_seconds_bucket"], {"route", "target_version", "le"})
        self.assertEqual(values["hookshift_events_total"]["outcome"], {"delivered"})
        self.assertEqual(types["hookshift_delivery_duration_seconds"], "histogram")


class CheckExprs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        cls.scrape = os.path.join(cls.tmp, "metrics.txt")
        with open(cls.scrape, "w") as f:
            f.write(SCRAPE)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def run_check(self, dashboard=None, scrape=None):
        dash = os.path.join(DEPLOY, "grafana", "hookshift.json")
        if dashboard is not None:
            dash = os.path.join(self.tmp, "dash.json")
            with open(dash, "w") as f:
                json.dump(dashboard, f)
        p = subprocess.run([sys.executable, os.path.join(HERE, "check_exprs.py"), "--metrics", scrape or self.scrape,
                            "--dashboard", dash], capture_output=True, text=True)
        return p.returncode, p.stdout + p.stderr

    def mutated(self, old, new):
        """The shipped dashboard with `old` replaced by `new` in the first panel query that has it."""
        with open(os.path.join(DEPLOY, "grafana", "hookshift.json")) as f:
            d = json.load(f)
        for p in d["panels"]:
            for t in p.get("targets", []):
                if old in t.get("expr", ""):
                    t["expr"] = t["expr"].replace(old, new, 1)
                    return d
        self.fail(f"no query contains {old!r}")

    def test_shipped_dashboard_and_rules_pass(self):
        rc, out = self.run_check()
        self.assertEqual(rc, 0, out)

    def test_wrong_metric_name_fails(self):
        rc, out = self.run_check(self.mutated("hookshift_events_total{", "hookshift_event_total{"))
        self.assertEqual(rc, 1)
        self.assertIn("metric hookshift_event_total is not exported", out)

    def test_histogram_base_name_fails(self):
        rc, out = self.run_check(self.mutated("hookshift_delivery_duration_seconds_bucket", "hookshift_delivery_duration_seconds"))
        self.assertEqual(rc, 1)
        self.assertIn("use _bucket, _sum or _count", out)

    def test_wrong_label_fails(self):
        rc, out = self.run_check(self.mutated("sum by (api_version)", "sum by (apiversion)"))
        self.assertEqual(rc, 1)
        self.assertIn("grouping label 'apiversion'", out)

    def test_wrong_matcher_label_fails(self):
        rc, out = self.run_check(self.mutated('outcome="delivered"', 'result="delivered"'))
        self.assertEqual(rc, 1)
        self.assertIn("has no label 'result'", out)

    def test_wrong_label_value_fails(self):
        rc, out = self.run_check(self.mutated('outcome="delivered"', 'outcome="deliverd"'))
        self.assertEqual(rc, 1)
        self.assertIn("outcome='deliverd' is not a value", out)

    def test_missing_family_fails(self):
        path = os.path.join(self.tmp, "short.txt")
        with open(path, "w") as f:
            f.write("\n".join(l for l in SCRAPE.splitlines() if "inflight" not in l) + "\n")
        rc, out = self.run_check(scrape=path)
        self.assertEqual(rc, 1)
        self.assertIn("documented metric hookshift_inflight_requests is missing", out)


class Dashboard(unittest.TestCase):
    def test_generated_file_is_current(self):
        rc = subprocess.call([sys.executable, os.path.join(HERE, "grafana_dashboard.py"), "--check"])
        self.assertEqual(rc, 0)

    def test_structure(self):
        with open(os.path.join(DEPLOY, "grafana", "hookshift.json")) as f:
            d = json.load(f)
        ids = [p["id"] for p in d["panels"]]
        self.assertEqual(len(ids), len(set(ids)))
        names = {v["name"] for v in d["templating"]["list"]}
        self.assertTrue({"datasource", "route", "api_version", "old_version"} <= names)
        for p in d["panels"]:
            g = p["gridPos"]
            self.assertLessEqual(g["x"] + g["w"], 24, p["title"])
            for t in p.get("targets", []):
                self.assertEqual(t["datasource"]["uid"], "${datasource}")
                pq.substitute(t["expr"], check_exprs.DASHBOARD_VARS)  # no unknown variable
        rows = [p for p in d["panels"] if p["type"] == "row" and p.get("repeat") == "api_version"]
        self.assertEqual(len(rows), 1)


if __name__ == "__main__":
    unittest.main(verbosity=1)
