#!/usr/bin/env python3
"""Checks the environment each deployment gives hookshift: secrets only from the environment, and a
configuration `hookshift check` accepts.

    python3 deploy/scripts/check_env.py --hookshift target/debug/hookshift

For deploy/Dockerfile (its ENV lines) and deploy/systemd/hookshift.service (its Environment= lines):
  * every secret of the effective configuration (config.toml with the HOOKSHIFT__ overrides laid over
    it) is an `env:VAR` reference, never an inline value: the shipped config.toml carries development
    secrets inline, so the deployments must override them;
  * `hookshift check --config config.toml` passes with that environment (and dummy values for the
    secret variables). deploy/scripts/check_k8s.py does the same for the Kubernetes Deployment.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.dirname(HERE)
REPO = os.path.dirname(DEPLOY)

RESULTS = {"passed": 0, "failed": 0}


def ok(cond, what):
    RESULTS["passed" if cond else "failed"] += 1
    print(f"  {'ok  ' if cond else 'FAIL'}  {what}")
    return cond


def effective_secrets(config_text, env):
    """-> [(key, value)] for every secret key of the effective config (overrides applied)."""
    cfg = tomllib.loads(config_text)
    out = []
    for i, r in enumerate(cfg.get("routes", [])):
        ov = env.get(f"HOOKSHIFT__ROUTES__{i}__INBOUND_SECRETS")
        if ov is not None:
            vals = json.loads(ov) if ov.startswith("[") else [ov]
        else:
            vals = r.get("inbound_secrets", [])
        out += [(f"routes[{i}].inbound_secrets", v) for v in vals]
        ov = env.get(f"HOOKSHIFT__ROUTES__{i}__DOWNSTREAM__SECRET")
        out.append((f"routes[{i}].downstream.secret", ov if ov is not None else r.get("downstream", {}).get("secret")))
    return out


def env_reference(value):
    """`env:VAR` -> (VAR, False); `env?:VAR` (may be absent) -> (VAR, True); else None."""
    if isinstance(value, str):
        for prefix, optional in (("env:", False), ("env?:", True)):
            if value.startswith(prefix):
                return value[len(prefix):], optional
    return None


def secret_checks(config_text, env, where, optional=None):
    """Asserts every secret is env:VAR or env?:VAR; returns the set of VAR names (the `env?:` ones also
    added to `optional` when given)."""
    secrets = effective_secrets(config_text, env)
    inline = [k for k, v in secrets if env_reference(v) is None]
    ok(secrets and not inline, f"{where}: every secret comes from the environment"
       + (f" (inline in the effective config: {inline})" if inline else ""))
    names = set()
    for _, v in secrets:
        ref = env_reference(v)
        if ref:
            names.add(ref[0])
            if ref[1] and optional is not None:
                optional.add(ref[0])
    return names


def run_check(hookshift, config, env, secret_vars, where, mappings=None):
    penv = {k: v for k, v in os.environ.items() if not k.startswith("HOOKSHIFT__")}
    penv.update(env)
    for v in secret_vars:
        penv[v] = "dummy-secret-for-check"
    if mappings:
        penv["HOOKSHIFT__MAPPINGS__DIR"] = mappings
    p = subprocess.run([hookshift, "check", "--config", config], env=penv, capture_output=True, text=True)
    ok(p.returncode == 0, f"{where}: hookshift check accepts config.toml with this environment"
       + ("\n" + p.stdout + p.stderr if p.returncode else ""))


def dockerfile_env(path):
    """ENV instructions of the final stage (after the last FROM)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"\\\n", " ", text)
    env = {}
    for line in text.splitlines():
        s = line.strip()
        if s.upper().startswith("FROM "):
            env = {}
        elif s.upper().startswith("ENV "):
            for tok in shlex.split(s[4:]):
                k, _, v = tok.partition("=")
                env[k] = v
    return env


def unit_env(path):
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            s = line.strip()
            if s.startswith("Environment="):
                for tok in shlex.split(s[len("Environment="):]):
                    k, _, v = tok.partition("=")
                    env[k] = v
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=os.path.join(REPO, "config.toml"))
    ap.add_argument("--mappings", default=os.path.join(REPO, "mappings"))
    ap.add_argument("--hookshift", help="binary for `hookshift check`")
    args = ap.parse_args()
    with open(args.config, encoding="utf-8") as f:
        config_text = f.read()

    print("Dockerfile:")
    denv = dockerfile_env(os.path.join(DEPLOY, "Dockerfile"))
    ok(denv.get("HOOKSHIFT__SERVER__LISTEN", "").startswith("0.0.0.0:")
       and denv.get("HOOKSHIFT__SERVER__ADMIN_LISTEN", "").startswith("0.0.0.0:"), "listeners on all interfaces")
    dvars = secret_checks(config_text, denv, "Dockerfile")
    if args.hookshift:
        # /etc/hookshift/mappings is the image's copy of mappings/: use the repository's here
        run_check(args.hookshift, args.config, denv, dvars, "Dockerfile", mappings=os.path.abspath(args.mappings))

    print("systemd unit:")
    uenv = unit_env(os.path.join(DEPLOY, "systemd", "hookshift.service"))
    uvars = secret_checks(config_text, uenv, "hookshift.service")
    with open(os.path.join(DEPLOY, "systemd", "hookshift.service"), encoding="utf-8") as f:
        unit = f.read()
    documented = set(re.findall(r"^#\s+([A-Z_][A-Z0-9_]*)=", unit, re.M))
    ok(uvars <= documented, f"the unit documents every secret variable for secrets.env: {sorted(uvars)}")
    if args.hookshift:
        run_check(args.hookshift, args.config, uenv, uvars, "hookshift.service")

    print(f"env: {RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
