#!/usr/bin/env python3
"""Writes the Prometheus Operator's PrometheusRule from deploy/prometheus/alerts.yml, the one source of
the alerts, so that plain Prometheus (rule_files) and the Operator load the same rules.

    python3 deploy/scripts/prometheus_rule.py           # rewrite deploy/k8s/components/prometheus-operator/prometheusrule.yaml
    python3 deploy/scripts/prometheus_rule.py --check   # exit 1 when that file is not what alerts.yml gives

check.sh runs --check: an alerts.yml edit without re-running this fails CI.
"""
import argparse
import os
import sys

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("prometheus_rule.py needs PyYAML (apt-get install python3-yaml, or pip install pyyaml)")

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.dirname(HERE)
SOURCE = os.path.join(DEPLOY, "prometheus", "alerts.yml")
TARGET = os.path.join(DEPLOY, "k8s", "components", "prometheus-operator", "prometheusrule.yaml")

HEADER = """\
# GENERATED from deploy/prometheus/alerts.yml by deploy/scripts/prometheus_rule.py: do not edit here.
# Edit alerts.yml (promtool-tested in deploy/check.sh), then run the script again.
"""


class LiteralDumper(yaml.SafeDumper):
    """Multi-line strings (PromQL expressions) as `|` blocks, as alerts.yml writes them."""


def _str(dumper, text):
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


LiteralDumper.add_representer(str, _str)


def render(source=SOURCE):
    with open(source, encoding="utf-8") as f:
        rules = yaml.safe_load(f)
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "hookshift"},
        "spec": {"groups": rules["groups"]},
    }
    return HEADER + yaml.dump(doc, Dumper=LiteralDumper, sort_keys=False, width=1000, allow_unicode=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    args = ap.parse_args()
    text = render()
    if args.check:
        try:
            with open(TARGET, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current != text:
            print(f"{os.path.relpath(TARGET)} is not what alerts.yml gives: run python3 deploy/scripts/prometheus_rule.py")
            return 1
        print(f"{os.path.relpath(TARGET)} matches deploy/prometheus/alerts.yml")
        return 0
    with open(TARGET, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {os.path.relpath(TARGET)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
