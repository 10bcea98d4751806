#!/usr/bin/env bash
# Conformance of the shipped mappings with Extend's own Python SDK.
#
#   bash tests/conformance/run.sh
#
# 1. setup.sh: .venv-old (extend-ai==0.2.0, 2025-04-21) and .venv-new (extend-ai==1.20.0, 2026-02-09).
# 2. For every step folder mappings/FROM_to_TO: every golden NAME.input.json validates against the
#    FROM models and every NAME.output.json against the TO models (validate.py: the SDK's
#    TypeAdapter(WebhookEvent).validate_python, no dict fallback, plus no undeclared keys). Works for
#    both directions (2025-04-21_to_2026-02-09 and 2026-02-09_to_2025-04-21) from the folder name.
# 3. The large case: make_large.py --check when it is committed, else generated into a temp dir and
#    validated from there.
# 4. lossless.py: no input value silently lost, for every step.
# 4b. shapes.py: variants of every golden input made from the SDK models (each enum value, null,
#    absent, empty list / object, two list elements, an unknown key), translated by the binary and
#    validated against the target SDK; refusals only for documented reasons.
# 5. verify_signature.py self-test against extend-ai 1.20.0's Webhooks.verify (reference §1.2
#    vectors, a tampered and an upper-case signature, and a freshly signed golden output).
# Exit status 0 only when everything passes.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tests/conformance"
FORWARD="2025-04-21_to_2026-02-09"

bash "$HERE/setup.sh" || { echo "run.sh: setup failed"; exit 1; }

venv_for() {
    case "$1" in
        2025-04-21) echo "$ROOT/.venv-old" ;;
        2026-02-09) echo "$ROOT/.venv-new" ;;
        *) return 1 ;;
    esac
}

fail=0
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for sdk in old new; do "$ROOT/.venv-$sdk/bin/python" "$HERE/make_schemas.py" --check || fail=1; done

# The large case: committed while under 5 MB, otherwise generated at test time.
large_dir=""
if [ -e "$ROOT/mappings/$FORWARD/golden/extract_processed_large.input.json" ]; then
    "$ROOT/.venv-new/bin/python" "$HERE/make_large.py" --check || fail=1
else
    large_dir="$tmp/large"
    "$ROOT/.venv-new/bin/python" "$HERE/make_large.py" --out "$large_dir" >/dev/null || fail=1
fi

steps=0
for step_dir in "$ROOT"/mappings/*_to_*/; do
    [ -d "$step_dir" ] || continue
    step="$(basename "$step_dir")"
    from="${step%%_to_*}"
    to="${step#*_to_}"
    steps=$((steps + 1))
    if ! from_venv="$(venv_for "$from")" || ! to_venv="$(venv_for "$to")"; then
        echo "FAIL $step: no SDK virtualenv for version $from or $to"
        fail=1
        continue
    fi
    inputs=()
    outputs=()
    dirs=("$step_dir/golden")
    if [ "$step" = "$FORWARD" ] && [ -n "$large_dir" ]; then dirs+=("$large_dir"); fi
    for dir in "${dirs[@]}"; do
        for input in "$dir"/*.input.json; do
            [ -e "$input" ] || continue
            inputs+=("$input")
            output="${input%.input.json}.output.json"
            if [ -e "$output" ]; then
                outputs+=("$output")
            else
                echo "FAIL $output: missing (every golden input needs its output)"
                fail=1
            fi
        done
    done
    echo "== $step: ${#inputs[@]} input(s) against $from, ${#outputs[@]} output(s) against $to"
    # A drift case's input (NAME containing `_drift`) carries keys the models do not declare, on
    # purpose: its types are checked, its extra keys are not.
    strict=()
    drift=()
    for input in "${inputs[@]}"; do
        case "$(basename "$input")" in
            *_drift*) drift+=("$input") ;;
            *) strict+=("$input") ;;
        esac
    done
    if [ "${#strict[@]}" -gt 0 ]; then
        "$from_venv/bin/python" "$HERE/validate.py" --schema "$from" --quiet "${strict[@]}" || fail=1
    fi
    if [ "${#drift[@]}" -gt 0 ]; then
        "$from_venv/bin/python" "$HERE/validate.py" --schema "$from" --quiet --extra-keys-ok "${drift[@]}" || fail=1
    fi
    if [ "${#outputs[@]}" -gt 0 ]; then
        "$to_venv/bin/python" "$HERE/validate.py" --schema "$to" --quiet --drift-from-input "${outputs[@]}" || fail=1
    fi
done
if [ "$steps" -eq 0 ]; then
    echo "FAIL: no step folders under mappings/"
    fail=1
fi

echo "== lossless"
lossless_args=()
if [ -n "$large_dir" ]; then lossless_args=(--golden-dir "$large_dir" "$FORWARD"); fi
"$ROOT/.venv-new/bin/python" "$HERE/lossless.py" "${lossless_args[@]}" || fail=1
if [ -n "$large_dir" ]; then  # the other steps too, without the extra folder
    for step_dir in "$ROOT"/mappings/*_to_*/; do
        step="$(basename "$step_dir")"
        [ "$step" = "$FORWARD" ] && continue
        "$ROOT/.venv-new/bin/python" "$HERE/lossless.py" "$step" || fail=1
    done
fi

echo "== shapes (every enum value, null, absent, empty and unknown key the SDK models allow)"
# HOOKSHIFT_BIN: a binary already built (CI passes the one `cargo test` built); else build it here.
bin="${HOOKSHIFT_BIN:-$ROOT/target/debug/hookshift}"
if [ -n "${HOOKSHIFT_BIN:-}" ] || cargo build --quiet --manifest-path "$ROOT/Cargo.toml"; then
    for step_dir in "$ROOT"/mappings/*_to_*/; do
        step="$(basename "$step_dir")"
        from="${step%%_to_*}"
        from_venv="$(venv_for "$from")" || continue
        "$from_venv/bin/python" "$HERE/shapes.py" --binary "$bin" "$step" || fail=1
    done
else
    echo "FAIL: cargo build (shapes.py needs the binary)"
    fail=1
fi

echo "== verify_signature.py (extend-ai 1.20.0 Webhooks.verify)"
VERIFY=("$ROOT/.venv-new/bin/python" "$HERE/verify_signature.py")
expect() {  # expect STATUS BODY_FILE TIMESTAMP SIGNATURE SECRET [ARGS...]
    local want="$1"; shift
    "${VERIFY[@]}" "$@" >/dev/null
    local got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL verify_signature.py $* exited $got, expected $want"
        fail=1
    fi
}
printf '%s' '{"eventId":"evt_123","eventType":"workflow_run.completed","payload":{"object":"workflow_run","id":"workflow_run_abc123"}}' > "$tmp/v1"
printf '%s' '{"event":"hello"}' > "$tmp/v3"
printf '%s' '{"name":"Café – ü"}' > "$tmp/v5"
expect 0 "$tmp/v1" 1700000000 1c7bbb36b2f1f47f47d49bd9dd2b1e56c791923143a0ce388fafa6796270128e wss_test_secret_123 --max-age 0
expect 0 "$tmp/v3" 1700000000 5c5d1b7e3639633010a1caabc2ce184f2be0f02383e8f1228a06543de2157bad wss_test --max-age 0
expect 0 "$tmp/v5" 1700000000 0bef6288097ecb4402bf9c2fead859ade10ceb1136e2f9de9d1f8c03ae9bef70 wss_test_secret_123 --max-age 0
expect 1 "$tmp/v3" 1700000000 5c5d1b7e3639633010a1caabc2ce184f2be0f02383e8f1228a06543de2157bac wss_test --max-age 0
expect 1 "$tmp/v3" 1700000000 5C5D1B7E3639633010A1CAABC2CE184F2BE0F02383E8F1228A06543DE2157BAD wss_test --max-age 0
expect 1 "$tmp/v3" 1700000000 5c5d1b7e3639633010a1caabc2ce184f2be0f02383e8f1228a06543de2157bad wss_test
body="$ROOT/mappings/$FORWARD/golden/extract_processed.output.json"
now="$(date +%s)"
sig="$("$ROOT/.venv-new/bin/python" - "$body" "$now" <<'PY'
import hashlib, hmac, sys
body = open(sys.argv[1], "rb").read()
print(hmac.new(b"wss_conformance_secret", b"v0:" + sys.argv[2].encode() + b":" + body, hashlib.sha256).hexdigest())
PY
)"
expect 0 "$body" "$now" "$sig" wss_conformance_secret
expect 1 "$body" "$now" "$sig" wss_other_secret

if [ "$fail" -eq 0 ]; then
    echo "conformance: OK"
else
    echo "conformance: FAILED"
fi
exit "$fail"
