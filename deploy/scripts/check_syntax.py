#!/usr/bin/env python3
"""Parses every YAML and JSON file under deploy/ (generated/ excluded). Exit 1 on any syntax error."""
import glob
import json
import os
import sys

import yaml

DEPLOY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
bad = 0
ymls = [f for f in sorted(glob.glob(os.path.join(DEPLOY, "**", "*.y*ml"), recursive=True)) if "/generated/" not in f]
jsons = sorted(glob.glob(os.path.join(DEPLOY, "**", "*.json"), recursive=True))
for f in ymls:
    try:
        with open(f, encoding="utf-8") as fh:
            list(yaml.safe_load_all(fh))
    except yaml.YAMLError as e:
        bad += 1
        print(f"FAIL {os.path.relpath(f)}: {e}")
for f in jsons:
    try:
        with open(f, encoding="utf-8") as fh:
            json.load(fh)
    except ValueError as e:
        bad += 1
        print(f"FAIL {os.path.relpath(f)}: {e}")
print(f"{len(ymls)} YAML and {len(jsons)} JSON files parsed, {bad} with errors")
sys.exit(1 if bad else 0)
