#!/usr/bin/env python3
"""Every shape the SDK models allow, through `hookshift translate`, checked against the other SDK.

    .venv-old/bin/python tests/conformance/shapes.py 2025-04-21_to_2026-02-09
    .venv-new/bin/python tests/conformance/shapes.py 2026-02-09_to_2025-04-21

Run it with the interpreter of the SOURCE version's venv (its SDK builds the variants); the target
version's venv validates the results (tests/conformance/setup.sh makes both). For the step folder
`mappings/FROM_to_TO`:

1. Every golden input is validated with the FROM SDK into its model tree. The tree is walked and, for
   every model object and every field its model declares, variants of the event are made:
   - an optional field absent; a nullable field `null`;
   - every value of a `Literal` (enum) field;
   - a list field empty, and with its first element twice (e.g. a run with two files);
   - an object field `{}` (not a `config`, nor a config-carrying object's `type`: those only come
     together with the matching config and output);
   - an unknown key added to the model object (drift: a field the sender adds later);
   - every nullable field `null` at once, every optional field absent at once.
   Each (place, model, field, change) is tried once per step (on the first golden case that has
   it; the place is the path without array indexes). A
   variant the FROM SDK rejects is not a shape the SDK allows and is skipped.
2. Every variant is translated by the built binary (`hookshift translate --from FROM --to TO`).
3. Every translated event must validate with the TO SDK (validate.py: TypeAdapter, no dict
   fallback, no undeclared keys except the unknown key the input carried: `--drift-from-input`).
   A variant hookshift refuses must be refused for a documented reason: its error matches one of
   DOCUMENTED_REFUSALS (each listed in the step README's refusals); `unmapped` only for rules that
   declare `counterpart = false`.

Exit status 0 when every variant passes; otherwise the failures, one line each (variant, then why).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import typing
from pathlib import Path

import pydantic

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import validate  # noqa: E402  (same folder)

VENV = {"2025-04-21": ROOT / ".venv-old", "2026-02-09": ROOT / ".venv-new"}
DRIFT_KEY = "hookshiftProbeAddedLater"
GOLDEN_TIMESTAMP = "1771000000"

# Refusals the mapping READMEs document (section "Refusals"), by the text of the error.
DOCUMENTED_REFUSALS = {
    "2025-04-21_to_2026-02-09": [
        # a step run whose step.type names no 2026-02-09 step type of the old events
        r"failed at payload(\.stepRuns\[\d+\])?\.step\.type: no case for",
    ],
    "2026-02-09_to_2025-04-21": [
        # a step run that names its step type nowhere (neither stepType nor step.type)
        r"failed at payload\.stepType\|?\S*: no rule takes this event: found nothing",
    ],
}


def literal_values(annotation) -> list:
    out = []
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return [a for a in typing.get_args(annotation) if isinstance(a, (str, int, bool))]
    for arg in typing.get_args(annotation) if origin is not None else []:
        out.extend(literal_values(arg))
    return out


def nullable(annotation) -> bool:
    if annotation is type(None):
        return True
    return any(nullable(a) for a in typing.get_args(annotation))


def payload_model(validator: validate.Validator, event: dict):
    """The validated payload of a golden event (a model instance)."""
    if validator.schema == "2026-02-09":
        return validator.adapter.validate_python(event).payload
    name = validate.OLD_PAYLOAD_MODEL[event["eventType"]]
    return pydantic.TypeAdapter(validator.old_models[name]).validate_python(event["payload"])


def model_objects(obj, path: tuple, out: list) -> None:
    """(raw path, model instance) of every model object under obj."""
    if isinstance(obj, pydantic.BaseModel):
        out.append((path, obj))
        for name, info in type(obj).model_fields.items():
            value = getattr(obj, name, None)
            if value is not None:
                model_objects(value, path + (info.alias or name,), out)
    elif isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            model_objects(item, path + (i,), out)
    elif isinstance(obj, dict):
        for key, item in obj.items():
            model_objects(item, path + (key,), out)


def at(value, path: tuple):
    for seg in path:
        value = value[seg]
    return value


def variants(event: dict, validator: validate.Validator, seen: set):
    """(label, variant event) for every change not yet tried in this step."""
    objects: list = []
    model_objects(payload_model(validator, event), ("payload",), objects)
    for path, obj in objects:
        cls = type(obj)
        raw = at(event, path)
        if not isinstance(raw, dict):
            continue

        def make(change: str, mutate):
            key = (tuple(seg for seg in path if not isinstance(seg, int)), cls.__name__, change)
            if key in seen:
                return None
            variant = copy.deepcopy(event)
            mutate(at(variant, path))
            seen.add(key)
            return (f"{cls.__name__}.{change} at {'.'.join(map(str, path))}", variant)

        yield make("+drift", lambda d: d.__setitem__(DRIFT_KEY, "probe"))
        fields = [(info.alias or name, info) for name, info in cls.model_fields.items()]
        nullables = [a for a, info in fields if nullable(info.annotation) and raw.get(a) is not None]
        optionals = [a for a, info in fields if a in raw and not info.is_required()]
        if len(nullables) > 1:  # e.g. a run in review: startTime and endTime both null
            yield make("all nullable=null", lambda d: d.update({a: None for a in nullables}))
        if len(optionals) > 1:
            yield make("all optional=absent", lambda d: [d.pop(a) for a in optionals])
        for name, info in cls.model_fields.items():
            alias = info.alias or name
            present = alias in raw
            value = raw.get(alias)
            if present and not info.is_required():
                yield make(f"{alias}=absent", lambda d, a=alias: d.pop(a))
            if nullable(info.annotation) and value is not None:
                yield make(f"{alias}=null", lambda d, a=alias: d.__setitem__(a, None))
            # Coherent events only: the processor `type` (EXTRACT, CLASSIFY, SPLITTER) of a
            # processor, version or run selects the config and output shapes, so changing it alone makes an event
            # no sender produces (the 0.2.0 untagged unions would still accept it); likewise an
            # empty config.
            discriminator = alias in ("type", "processorType") and {"EXTRACT", "CLASSIFY"} <= set(literal_values(info.annotation))
            for literal in [] if discriminator else literal_values(info.annotation):
                if literal != value:
                    yield make(f"{alias}={literal}", lambda d, a=alias, v=literal: d.__setitem__(a, v))
            if isinstance(value, list) and value:
                yield make(f"{alias}=[]", lambda d, a=alias: d.__setitem__(a, []))
                yield make(f"{alias}=[first, first]",
                           lambda d, a=alias: d.__setitem__(a, [d[a][0], copy.deepcopy(d[a][0])]))
            if isinstance(value, dict) and value and alias != "config":
                yield make(f"{alias}={{}}", lambda d, a=alias: d.__setitem__(a, {}))


def source_valid(validator: validate.Validator, event: dict) -> bool:
    problems = validator.check(event)
    return not [p for p in problems if DRIFT_KEY not in p]


def main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", help="a step folder name, e.g. 2025-04-21_to_2026-02-09")
    parser.add_argument("--binary", default=str(ROOT / "target" / "debug" / "hookshift"))
    parser.add_argument("--mappings", default=str(ROOT / "mappings"))
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    source, target = args.step.split("_to_")
    if validate.sdk_version() != validate.EXPECTED_SDK[source]:
        print(f"shapes.py: run with the {source} venv ({VENV[source]}/bin/python)", file=sys.stderr)
        return 2
    validator = validate.Validator(source)
    golden = Path(args.mappings) / args.step / "golden"
    seen: set = set()
    cases = []
    for input_path in sorted(golden.glob("*.input.json")):
        if "_large" in input_path.name:  # the same shapes as its small sibling, megabytes to copy
            continue
        event = json.loads(input_path.read_bytes())
        for made in variants(event, validator, seen):
            if made is None:
                continue
            label, variant = made
            if source_valid(validator, variant):
                cases.append((f"{input_path.name[:-len('.input.json')]}: {label}", variant))
    refusals = [re.compile(r) for r in DOCUMENTED_REFUSALS.get(args.step, [])]
    failures: list[str] = []
    translated = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n, (_, variant) in enumerate(cases):
            (Path(tmp) / f"v{n:05d}.input.json").write_text(json.dumps(variant))
        run = subprocess.run(
            [args.binary, "translate", "--from", source, "--to", target, "--mappings", args.mappings,
             "--timestamp", GOLDEN_TIMESTAMP, "--batch-dir", tmp],
            capture_output=True, text=True)
        if run.returncode != 0:
            print(f"shapes.py: hookshift translate failed: {run.stderr.strip()}", file=sys.stderr)
            return 1
        outputs = {}
        for n, (label, variant) in enumerate(cases):
            output_file = Path(tmp) / f"v{n:05d}.output.json"
            if output_file.exists():
                outputs[str(output_file)] = label
                translated += 1
                reported = json.loads((Path(tmp) / f"v{n:05d}.unmapped.json").read_text())
                if args.verbose and reported:
                    print(f"unmapped fields {label}: {reported}")
                continue
            message = (Path(tmp) / f"v{n:05d}.error.txt").read_text().strip()
            if "no mapping from" in message and "covers event type" in message:
                failures.append(f"{label}: unmapped, but only counterpart = false rules may say so: {message}")
            elif not any(r.search(message) for r in refusals):
                failures.append(f"{label}: refused without a documented reason: {message}")
            elif args.verbose:
                print(f"refused (documented) {label}: {message}")
        if outputs:
            check = subprocess.run(
                [str(VENV[target] / "bin" / "python"), str(HERE / "validate.py"), "--schema", target,
                 "--quiet", "--drift-from-input", *outputs],
                capture_output=True, text=True)
            current = None
            for line in check.stdout.splitlines():
                if line.startswith("FAIL "):
                    current = outputs.get(line.split()[1], line)
                    failures.append(f"{current}: output rejected by the {target} SDK:")
                elif line.startswith("     ") and current is not None:
                    failures[-1] += f"\n        {line.strip()}"
            if check.returncode not in (0, 1):
                failures.append(f"validate.py failed: {check.stderr.strip()}")
    print(f"== shapes {args.step}: {len(cases)} variant(s) the {source} SDK allows, {translated} translated, "
          f"{len(cases) - translated} refused, {len(failures)} failure(s)")
    for failure in failures:
        print(f"FAIL {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
