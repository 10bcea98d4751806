#!/usr/bin/env python3
"""Checks deploy/k8s: renders it the way an operator would and asserts what the deployment must hold.

    python3 deploy/scripts/check_k8s.py [--hookshift target/debug/hookshift] [--validator kubernetes-validate]

  1. generates the config/mappings Component (k8s_generate.py) into a temporary copy of deploy/k8s
     and renders it with `kubectl kustomize` (or, without kubectl, an equivalent built-in render);
  2. asserts the structure: kinds present, Deployment replicas/probes/resources/securityContext,
     grace period above hookshift's drain grace, ports consistent with the listen overrides, Service,
     PodDisruptionBudget and HorizontalPodAutoscaler selecting/targeting the Deployment, every
     ConfigMap referenced exists, every `env:VAR` secret of config.toml comes from a secretKeyRef,
     every file of mappings/ is mounted once at its path with its exact content;
  3. with --validator: validates every rendered object against the Kubernetes OpenAPI schemas
     (kubernetes-validate --strict, from PyPI);
  4. with --hookshift, with the container's environment (secrets replaced by dummies): `hookshift check`
     on config.toml and the repository's mappings; then rebuilds /etc/hookshift as a pod sees it
     (config.toml from its ConfigMap, the mappings tree from the projected volume) and starts
     `hookshift serve` on it (loopback ports), which must become ready (GET /readyz 200).
"""
import argparse
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


def render(k8s_dir):
    kubectl = shutil.which("kubectl")
    if kubectl:
        p = subprocess.run([kubectl, "kustomize", k8s_dir], capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"kubectl kustomize failed:\n{p.stderr}")
        print(f"rendered with {kubectl} kustomize")
        return [d for d in yaml.safe_load_all(p.stdout) if d]
    # Built-in equivalent for machines without kubectl: resources + generated ConfigMaps + the patch.
    print("rendered with the built-in renderer (no kubectl found)")
    with open(os.path.join(k8s_dir, "kustomization.yaml")) as f:
        kz = yaml.safe_load(f)
    docs = []
    for r in kz["resources"]:
        with open(os.path.join(k8s_dir, r)) as f:
            docs += [d for d in yaml.safe_load_all(f) if d]
    gen_dir = os.path.join(k8s_dir, "generated")
    with open(os.path.join(gen_dir, "kustomization.yaml")) as f:
        comp = yaml.safe_load(f)
    for g in comp["configMapGenerator"]:
        data = {}
        for spec in g["files"]:
            key, path = spec.split("=", 1)
            with open(os.path.join(gen_dir, path), encoding="utf-8") as f:
                data[key] = f.read()
        docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": g["name"]}, "data": data})
    patch = yaml.safe_load(comp["patches"][0]["patch"])
    new_vols = {v["name"]: v for v in patch["spec"]["template"]["spec"]["volumes"]}
    for d in docs:
        if d["kind"] == "Deployment":
            vols = d["spec"]["template"]["spec"]["volumes"]
            d["spec"]["template"]["spec"]["volumes"] = [new_vols.get(v["name"], v) for v in vols]
    for d in docs:
        d.setdefault("metadata", {}).setdefault("namespace", kz.get("namespace"))
    return docs


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
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="hookshift-k8s-")
    try:
        return run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp):
    k8s = os.path.join(tmp, "k8s")
    shutil.copytree(os.path.join(DEPLOY, "k8s"), k8s, ignore=shutil.ignore_patterns("generated"))
    k8s_generate.render(os.path.abspath(args.config), os.path.abspath(args.mappings), os.path.join(k8s, "generated"), False)
    docs = render(k8s)
    out = os.path.join(tmp, "rendered.yaml")
    with open(out, "w") as f:
        yaml.safe_dump_all(docs, f, sort_keys=False)
    with open(args.config, encoding="utf-8") as f:
        config_text = f.read()

    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    print("objects:", ", ".join(f"{k} x{len(v)}" for k, v in sorted(by_kind.items())))
    for kind in ("Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ServiceAccount"):
        ok(kind in by_kind, f"has a {kind}")
    ok(all(d["metadata"].get("namespace") == "hookshift" for d in docs), "every object in namespace hookshift")
    ok("Secret" not in by_kind, "no Secret rendered (secrets are created out of band)")

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

    # secrets: the effective config (config.toml + the container's HOOKSHIFT__ overrides) names every
    # secret as env:VAR, and every such VAR comes from a Secret
    plain_env = {e["name"]: e["value"] for e in env if "value" in e}
    print("secrets:")
    secret_vars = sorted(check_env.secret_checks(config_text, plain_env, "Deployment"))
    RESULTS["passed"] += check_env.RESULTS["passed"]
    RESULTS["failed"] += check_env.RESULTS["failed"]
    env_by_name = {e["name"]: e for e in env}
    for v in secret_vars:
        e = env_by_name.get(v, {})
        ok("secretKeyRef" in e.get("valueFrom", {}), f"{v} from a secretKeyRef")
    ok(not any("value" in e and re.search(r"secret", e["name"], re.I) and not e["value"].lstrip("[\"").startswith("env:")
               for e in env), "no secret given as a literal value")

    # config maps and volumes
    cms = {d["metadata"]["name"]: d for d in by_kind.get("ConfigMap", [])}
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

    if args.validator:
        print("schemas:")
        p = subprocess.run([args.validator, "--strict", "--quiet", out], capture_output=True, text=True)
        ok(p.returncode == 0, f"kubernetes-validate --strict: {len(docs)} objects valid" + (("\n" + p.stdout + p.stderr) if p.returncode else ""))

    if args.hookshift:
        penv = {k: v for k, v in os.environ.items() if not k.startswith("HOOKSHIFT__")}
        for e in env:
            if "value" in e:
                penv[e["name"]] = e["value"]
            elif "secretKeyRef" in e.get("valueFrom", {}):
                penv[e["name"]] = "dummy-secret-for-check"
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
