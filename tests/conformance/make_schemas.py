#!/usr/bin/env python3
"""Write one JSON Schema per webhook event type from Extend's own Python SDK models.

    .venv-old/bin/python tests/conformance/make_schemas.py            # writes schemas/2025-04-21/
    .venv-new/bin/python tests/conformance/make_schemas.py            # writes schemas/2026-02-09/
    .venv-new/bin/python tests/conformance/make_schemas.py --check    # fails if the committed files differ

Run it with the interpreter of the venv that holds the SDK of the version to write (tests/conformance/
setup.sh makes both); the SDK version picks the API version. Every schema is
`pydantic.TypeAdapter(<event model>).json_schema()`, written with sorted keys and two-space indents, so
the output only changes when the SDK does.

- 2026-02-09 (extend-ai 1.20.0): `WebhookEvent` is a union of one model per event type; each member is
  written as `<eventType>.json`. The signed-URL payload model of the SDK's webhook helpers
  (`extend_ai.wrapper.webhooks.SignedDataUrlPayload`, a dataclass) is written beside them as
  `payloads/SignedDataUrlPayload.json`: it is the payload of an event of any type whose body was too
  large to send inline, not an event type of its own.
- 2025-04-21 (extend-ai 0.2.0): `WebhookEvent` has a free `eventType` and an untagged payload union, so
  each event type gets the SDK's envelope with `eventType` fixed to it and `payload` set to the model it
  carries (`OLD_PAYLOAD_MODEL` of validate.py). Two adjustments, both the ones validate.py makes:
  - `workflow_run.step_run.processed` carries a `StepRun` (the payload union omits it); when the step
    run's free-form `output` is a ProcessorRun (`object: document_processor_run`, an extraction step's
    output) it is held to `ProcessorRun`, else to the SDK's `StepRunOutput`.
  - models validate.py keeps open (`OPEN_MODELS`: `StepRunOutput`, the external endpoint's own object)
    are marked `"x-hookshift-open": true`, so strict validation does not refuse their undeclared keys.

Exit status: 0 on success; with --check, 1 when a committed file differs, is missing or is extra.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from pathlib import Path

import pydantic

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from validate import EXPECTED_SDK, OLD_PAYLOAD_MODEL, OPEN_MODELS, sdk_version  # noqa: E402

OPEN_MARK = "x-hookshift-open"
PAYLOAD_DIR = "payloads"


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def camel(event_type: str) -> str:
    return "".join(part.capitalize() for chunk in event_type.split(".") for part in chunk.split("_"))


def mark_open(schema: dict, open_models: set[str]) -> None:
    for name, definition in schema.get("$defs", {}).items():
        if name in open_models:
            definition[OPEN_MARK] = True


def new_schemas() -> dict[str, dict]:
    from extend_ai.types.webhook_event import WebhookEvent
    from extend_ai.wrapper.webhooks import SignedDataUrlPayload

    union = WebhookEvent
    if typing.get_origin(union) is typing.Annotated:
        union = typing.get_args(union)[0]
    out: dict[str, dict] = {}
    for member in typing.get_args(union):
        event_type = member.model_fields["event_type"].default
        schema = pydantic.TypeAdapter(member).json_schema()
        mark_open(schema, OPEN_MODELS["2026-02-09"])
        out[f"{event_type}.json"] = schema
    out[f"{PAYLOAD_DIR}/SignedDataUrlPayload.json"] = pydantic.TypeAdapter(SignedDataUrlPayload).json_schema()
    return out


def old_schemas() -> dict[str, dict]:
    import extend_ai.types as types
    from extend_ai.types.webhook_event import WebhookEvent

    out: dict[str, dict] = {}
    for event_type, model_name in OLD_PAYLOAD_MODEL.items():
        envelope = pydantic.create_model(
            f"WebhookEvent_{camel(event_type)}",
            __base__=WebhookEvent,
            event_type=(typing.Literal[event_type], pydantic.Field(alias="eventType")),
            payload=(getattr(types, model_name), pydantic.Field()),
        )
        schema = pydantic.TypeAdapter(envelope).json_schema()
        if model_name == "StepRun":
            hold_extraction_output_to_processor_run(schema, types.ProcessorRun)
        mark_open(schema, OPEN_MODELS["2025-04-21"])
        out[f"{event_type}.json"] = schema
    return out


def hold_extraction_output_to_processor_run(schema: dict, processor_run: type) -> None:
    """StepRun.output: a ProcessorRun when it says so (`object`), the SDK's own type otherwise."""
    run = pydantic.TypeAdapter(processor_run).json_schema()
    defs = schema.setdefault("$defs", {})
    for name, definition in run.pop("$defs", {}).items():
        if name in defs and defs[name] != definition:
            raise SystemExit(f"make_schemas.py: two different definitions named {name}")
        defs[name] = definition
    if "ProcessorRun" in defs and defs["ProcessorRun"] != run:
        raise SystemExit("make_schemas.py: two different definitions named ProcessorRun")
    defs["ProcessorRun"] = run
    step_run = defs["StepRun"]["properties"]
    sdk_output = step_run["output"]
    step_run["output"] = {
        "if": {
            "properties": {"object": {"const": "document_processor_run"}},
            "required": ["object"],
            "type": "object",
        },
        "then": {"$ref": "#/$defs/ProcessorRun"},
        "else": sdk_output,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    parser.add_argument("--out", type=Path, default=ROOT / "schemas", help="schemas folder (default: schemas/)")
    args = parser.parse_args(argv)

    have = sdk_version()
    versions = [v for v, sdk in EXPECTED_SDK.items() if sdk == have]
    if not versions:
        print(f"make_schemas.py: extend-ai {have} is neither of {EXPECTED_SDK} ({sys.executable})", file=sys.stderr)
        return 2
    version = versions[0]
    schemas = new_schemas() if version == "2026-02-09" else old_schemas()
    folder = args.out / version
    wanted = {name: render(schema) for name, schema in schemas.items()}

    if args.check:
        problems = []
        for name, text in sorted(wanted.items()):
            path = folder / name
            if not path.exists():
                problems.append(f"{path}: missing")
            elif path.read_text(encoding="utf-8") != text:
                problems.append(f"{path}: differs from what extend-ai {have} gives")
        committed = {p.relative_to(folder).as_posix() for p in folder.rglob("*.json")} if folder.exists() else set()
        for name in sorted(committed - set(wanted)):
            problems.append(f"{folder / name}: not a schema extend-ai {have} gives")
        for line in problems:
            print(f"FAIL {line}")
        if problems:
            print(f"make_schemas.py --check: {len(problems)} problem(s); regenerate with "
                  f"{sys.executable} {Path(__file__).resolve().relative_to(ROOT)}")
            return 1
        print(f"ok   schemas/{version}: {len(wanted)} file(s) match extend-ai {have}")
        return 0

    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.rglob("*.json"):
        if stale.relative_to(folder).as_posix() not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(wanted)} file(s) to {folder} from extend-ai {have}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
