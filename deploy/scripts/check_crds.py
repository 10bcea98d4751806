#!/usr/bin/env python3
"""Validates Prometheus Operator objects (PodMonitor, PrometheusRule) against the Operator's CRD
schemas, offline, the way the API server does with strict field validation (kubectl's default):
wrong types, missing required fields and unknown fields are all errors.

    python3 check_crds.py FILE.yaml...        # exit 1 on any invalid object
    python3 check_crds.py --selftest          # the check refuses known-bad objects

The schemas come from the PyPI package cloudcoil-models-prometheus-operator (pydantic models generated
from the Operator's CRDs, installed by deploy/check.sh into its venv): no network at check time.
kubernetes-validate, which checks the built-in kinds, has no CRDs.
"""
import argparse
import copy
import sys

import yaml
from jsonschema import Draft202012Validator

from cloudcoil.models.prometheus_operator import v1

KINDS = {
    ("monitoring.coreos.com/v1", "PodMonitor"): v1.PodMonitor,
    ("monitoring.coreos.com/v1", "PrometheusRule"): v1.PrometheusRule,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): v1.ServiceMonitor,
}


def strict(schema):
    """Every object schema that lists its properties refuses others (strict field validation);
    maps (additionalProperties given as a schema) stay maps. Pydantic writes optional fields as
    anyOf [X, null]: the API server drops nulls, so they stay allowed."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if "properties" in node and not isinstance(node.get("additionalProperties"), dict):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


_VALIDATORS = {}


def validator(model):
    if model not in _VALIDATORS:
        _VALIDATORS[model] = Draft202012Validator(strict(model.model_json_schema(by_alias=True)))
    return _VALIDATORS[model]


def is_crd_kind(doc):
    return (doc.get("apiVersion"), doc.get("kind")) in KINDS


def problems(doc):
    """-> [message] for one object; [] when valid."""
    model = KINDS.get((doc.get("apiVersion"), doc.get("kind")))
    if model is None:
        return [f"no CRD schema for {doc.get('apiVersion')} {doc.get('kind')}"]
    out = []
    for error in sorted(validator(model).iter_errors(doc), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in error.absolute_path) or "(root)"
        out.append(f"{where}: {error.message}")
    if not out:
        try:
            model.model_validate(doc)
        except Exception as e:  # the model's own checks (enums, formats) as a second opinion
            out.append(str(e).splitlines()[0])
    return out


def selftest():
    good = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor", "metadata": {"name": "x"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "podMetricsEndpoints": [{"port": "admin", "path": "/metrics"}]}}
    rule = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": {"name": "x"},
            "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "for": "2m", "labels": {"severity": "critical"}}]}]}}
    failures = 0
    for name, doc, want_ok in [
        ("valid PodMonitor", good, True),
        ("valid PrometheusRule", rule, True),
        ("misspelled field", {**good, "spec": {**good["spec"], "podMetricsEndpoints": [{"port": "admin", "pathh": "/m"}]}}, False),
        ("wrong type", {**good, "spec": {**good["spec"], "podMetricsEndpoints": [{"port": 9464}]}}, False),
        ("missing selector", {**good, "spec": {"podMetricsEndpoints": [{"port": "admin"}]}}, False),
        ("rule without expr", {**rule, "spec": {"groups": [{"name": "g", "rules": [{"alert": "A"}]}]}}, False),
        ("unknown rule field", {**rule, "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "1", "severity": "x"}]}]}}, False),
    ]:
        found = problems(doc)
        right = (not found) == want_ok
        failures += not right
        print(f"  {'ok  ' if right else 'FAIL'}  {name}: {'valid' if not found else found[0]}")
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*")
    ap.add_argument("--selftest", action="store_true")
    args = ap.parse_args()
    if args.selftest:
        failed = selftest()
        print(f"crd selftest: {'ok' if not failed else f'{failed} wrong'}")
        return 1 if failed else 0
    bad = checked = 0
    for path in args.files:
        with open(path, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if not doc or not is_crd_kind(doc):
                    continue
                checked += 1
                found = problems(doc)
                name = f"{doc['kind']}/{doc.get('metadata', {}).get('name')}"
                print(f"  {'ok  ' if not found else 'FAIL'}  {name}" + "".join(f"\n        {p}" for p in found))
                bad += bool(found)
    print(f"crds: {checked} object(s), {bad} invalid")
    return 1 if bad or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
