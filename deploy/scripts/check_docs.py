#!/usr/bin/env python3
"""Checks that docs/migration.md's configuration is exact: the routes of "Before you start" with each
stage's `[routes.policy]` tables must pass `hookshift check`.

    python3 deploy/scripts/check_docs.py --hookshift target/debug/hookshift
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hookshift", required=True)
    ap.add_argument("--doc", default=os.path.join(REPO, "docs", "migration.md"))
    ap.add_argument("--mappings", default=os.path.join(REPO, "mappings"))
    args = ap.parse_args()
    with open(args.doc, encoding="utf-8") as f:
        doc = f.read()
    blocks = re.findall(r"```toml\n(.*?)```", doc, re.S)
    base = next(b for b in blocks if "[[routes]]" in b)
    policies = []  # (extend policy, legacy policy) per stage, in document order
    pending = {}
    for b in blocks:
        m = re.match(r'# route "(extend|legacy)"', b)
        if m and "[routes.policy]" in b:
            pending[m.group(1)] = b.split("[routes.policy]", 1)[1].strip()
            if len(pending) == 2:
                policies.append((pending["extend"], pending["legacy"]))
                pending = {}
    if not policies:
        print("no stage policies found")
        return 1
    secrets = set(re.findall(r'"env:([A-Z_][A-Z0-9_]*)"', base))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKSHIFT__")}
    env.update({v: "dummy-secret-for-check" for v in secrets})
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, (ext, leg) in enumerate(policies, 1):
            parts = base.split("[[routes]]")
            routes = []
            for part, pol in zip(parts[1:], (ext, leg)):
                routes.append("[[routes]]" + part.rstrip() + "\n[routes.policy]\n" + pol + "\n")
            text = ('[server]\nlisten = "127.0.0.1:8080"\nadmin_listen = "127.0.0.1:9464"\n\n'
                    f'[mappings]\ndir = "{os.path.abspath(args.mappings)}"\n\n' + "\n".join(routes))
            path = os.path.join(tmp, f"stage{i}.toml")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            p = subprocess.run([args.hookshift, "check", "--config", path], env=env, capture_output=True, text=True)
            good = p.returncode == 0
            failed += not good
            flat = lambda s: ", ".join(l for l in s.splitlines() if l)
            print(f"  {'ok  ' if good else 'FAIL'}  policy block pair {i}: extend {{{flat(ext)}}} legacy {{{flat(leg)}}}"
                  + ("" if good else "\n" + p.stdout + p.stderr))
    print(f"docs: {len(policies) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
