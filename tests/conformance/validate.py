#!/usr/bin/env python3
"""Validate Extend webhook event files against Extend's own Python SDK models.

    .venv-old/bin/python tests/conformance/validate.py --schema 2025-04-21 FILE...   # extend-ai==0.2.0
    .venv-new/bin/python tests/conformance/validate.py --schema 2026-02-09 FILE...   # extend-ai==1.20.0

Run it with the interpreter of the venv that holds the matching SDK (tests/conformance/setup.sh makes
both). For every file:

1. The event is validated with `pydantic.TypeAdapter(WebhookEvent).validate_python(event)`: the
   SDK's own webhook event type, no fallback to a dict (unlike the SDK's `Webhooks.parse`, which
   swallows validation errors).
   - 2026-02-09 (extend-ai 1.20.0): `WebhookEvent` is a union of one model per event type, told apart
     by the `eventType` literal, so the event type also fixes the payload model.
   - 2025-04-21 (extend-ai 0.2.0): `WebhookEvent.eventType` is `Literal[...] | Any` and `payload` an
     untagged union, so this script also checks that the event type is one of the 17 the SDK lists and
     that the payload validated as the model that event type carries (reference §3.2).
     Exception: the 0.2.0 payload union omits `StepRun` although the SDK lists the event type
     `workflow_run.step_run.processed` (whose payload is a StepRun), so for that one event type the
     envelope is checked by hand and the payload with `TypeAdapter(StepRun)`; when the step run's
     (free-form) `output` is a ProcessorRun (`object: document_processor_run`, an extraction step's
     output), it is also validated with `TypeAdapter(ProcessorRun)` and walked for undeclared keys.
2. Strictness: every model of both SDKs allows extra fields (`extra="allow"`), so validation alone
   would accept leftover fields of the other version. The validated model tree is walked and every
   key a model does not declare is reported with its path. Free-form values the schema types as
   `map[Any]` (metadata, output.value, config.schema...) are not models and are not walked.
   The only model exempted is 2025-04-21 `StepRunOutput`, documented by the SDK as "the same object
   that was returned by the external endpoint" for EXTERNAL_DATA_VALIDATION steps.
   With `--drift-from-input`, an undeclared key of `NAME.output.json` is accepted when
   `NAME.input.json` beside it carried the same key with the same value somewhere (a field the sender
   added later, which hookshift passes on where the target object survives); nothing else is.

Exit status: 0 when every file passes, 1 otherwise (2 on usage errors). One line per file, then the
problems of failing files, each with its JSON path.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from pathlib import Path

import pydantic

EXPECTED_SDK = {"2025-04-21": "0.2.0", "2026-02-09": "1.20.0"}
MAX_ERRORS = 25

# 2025-04-21: event type -> name of the payload model in extend_ai.types (reference §3.2, and the
# per-family WebhookEvent* models of extend-ai 0.2.0).
OLD_PAYLOAD_MODEL = {
    "workflow_run.completed": "WorkflowRun",
    "workflow_run.failed": "WorkflowRun",
    "workflow_run.needs_review": "WorkflowRun",
    "workflow_run.rejected": "WorkflowRun",
    "workflow_run.step_run.processed": "StepRun",
    "processor_run.processed": "ProcessorRun",
    "processor_run.failed": "ProcessorRun",
    "workflow.created": "Workflow",
    "workflow.deployed": "Workflow",
    "workflow.deleted": "Workflow",
    "processor.created": "Processor",
    "processor.updated": "Processor",
    "processor.deleted": "Processor",
    "processor.draft.updated": "Processor",
    "processor.version.published": "ProcessorVersion",
    "parser_run.processed": "ParserRunStatus",
    "parser_run.failed": "ParserRunStatus",
}

OPEN_MODELS = {"2025-04-21": {"StepRunOutput"}, "2026-02-09": set()}


def sdk_version() -> str:
    try:
        from importlib.metadata import version

        return version("extend-ai")
    except Exception:  # pragma: no cover
        return "unknown"


def field_alias(model_cls: type, name: str) -> str:
    info = model_cls.model_fields[name]
    return info.alias or name


def carried_pairs(value: typing.Any, out: set | None = None) -> set:
    """Every (key, value) member of every object in `value`: what an input event carried."""
    if out is None:
        out = set()
    if isinstance(value, dict):
        for key, item in value.items():
            out.add((key, json.dumps(item, sort_keys=True)))
            carried_pairs(item, out)
    elif isinstance(value, list):
        for item in value:
            carried_pairs(item, out)
    return out


def undeclared_keys(obj: typing.Any, path: str, open_models: set[str], out: list[str],
                    carried: set = frozenset()) -> None:
    """Every key a validated model kept as an extra, with its path (aliases, as on the wire).

    A key that the input event also carried with the same value (drift: a field the sender added
    that hookshift passes on, the SDK models allowing extra keys) is not reported; anything else is."""
    if isinstance(obj, pydantic.BaseModel):
        cls = type(obj)
        extra = getattr(obj, "__pydantic_extra__", None) or {}
        if extra and cls.__name__ not in open_models:
            for key, value in extra.items():
                if (key, json.dumps(value, sort_keys=True)) not in carried:
                    out.append(f"{path}.{key}: not a field of {cls.__name__}")
        for name in cls.model_fields:
            value = getattr(obj, name, None)
            if value is not None:
                undeclared_keys(value, f"{path}.{field_alias(cls, name)}", open_models, out, carried)
    elif isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            undeclared_keys(item, f"{path}[{i}]", open_models, out, carried)
    elif isinstance(obj, dict):
        for key, item in obj.items():
            undeclared_keys(item, f"{path}.{key}", open_models, out, carried)


def format_errors(err: pydantic.ValidationError, prefix: str = "$") -> list[str]:
    lines = []
    for e in err.errors()[:MAX_ERRORS]:
        loc = prefix
        for part in e["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else f".{part}"
        lines.append(f"{loc}: {e['msg']} [{e['type']}]")
    if err.error_count() > MAX_ERRORS:
        lines.append(f"... and {err.error_count() - MAX_ERRORS} more")
    return lines


class Validator:
    def __init__(self, schema: str):
        self.schema = schema
        from extend_ai.types.webhook_event import WebhookEvent

        self.event_type = WebhookEvent
        self.adapter = pydantic.TypeAdapter(WebhookEvent)
        self.open_models = OPEN_MODELS[schema]
        if schema == "2026-02-09":
            union = WebhookEvent
            if typing.get_origin(union) is typing.Annotated:
                union = typing.get_args(union)[0]
            self.members = {}
            for member in typing.get_args(union):
                default = member.model_fields["event_type"].default
                self.members[default] = member
        else:
            import extend_ai.types as types

            self.old_models = {name: getattr(types, name) for name in set(OLD_PAYLOAD_MODEL.values()) | {"ProcessorRun"}}

    def check(self, event: typing.Any, carried: set = frozenset()) -> list[str]:
        if not isinstance(event, dict):
            return ["$: an event is a JSON object"]
        if self.schema == "2026-02-09":
            return self.check_new(event, carried)
        return self.check_old(event, carried)

    def check_new(self, event: dict, carried: set) -> list[str]:
        event_type = event.get("eventType")
        try:
            validated = self.adapter.validate_python(event)
        except pydantic.ValidationError as err:
            member = self.members.get(event_type)
            if member is None:
                return [f"$.eventType: {event_type!r} is not a 2026-02-09 event type"]
            try:  # the one member the event type selects: its errors only, not all 40 members'
                pydantic.TypeAdapter(member).validate_python(event)
            except pydantic.ValidationError as member_err:
                return [f"(as {member.__name__})"] + format_errors(member_err)
            return format_errors(err)  # pragma: no cover - the union failed but its member passed
        problems: list[str] = []
        undeclared_keys(validated, "$", self.open_models, problems, carried)
        return problems

    def check_old(self, event: dict, carried: set) -> list[str]:
        event_type = event.get("eventType")
        expected_name = OLD_PAYLOAD_MODEL.get(event_type) if isinstance(event_type, str) else None
        if expected_name is None:
            return [f"$.eventType: {event_type!r} is not one of the 17 2025-04-21 event types"]
        expected = self.old_models[expected_name]
        problems: list[str] = []
        if expected_name == "StepRun":
            # extend-ai 0.2.0's WebhookEventPayload union has no StepRun: envelope by hand.
            for key in ("eventId", "eventType", "payload"):
                if key not in event:
                    problems.append(f"$.{key}: Field required")
            if not isinstance(event.get("eventId"), str):
                problems.append("$.eventId: Input should be a valid string")
            for key in event:
                if key not in ("eventId", "eventType", "payload"):
                    problems.append(f"$.{key}: not a field of WebhookEvent")
            try:
                payload = pydantic.TypeAdapter(expected).validate_python(event.get("payload"))
            except pydantic.ValidationError as err:
                return problems + [f"(payload as {expected_name})"] + format_errors(err, "$.payload")
            undeclared_keys(payload, "$.payload", self.open_models, problems, carried)
            # An extraction step's output (free-form in 0.2.0) that is a ProcessorRun is held to it.
            output = event["payload"].get("output") if isinstance(event.get("payload"), dict) else None
            if isinstance(output, dict) and output.get("object") == "document_processor_run":
                run_model = self.old_models["ProcessorRun"]
                try:
                    run = pydantic.TypeAdapter(run_model).validate_python(output)
                except pydantic.ValidationError as err:
                    return problems + ["(payload.output as ProcessorRun)"] + format_errors(err, "$.payload.output")
                undeclared_keys(run, "$.payload.output", self.open_models, problems, carried)
            return problems
        try:
            validated = self.adapter.validate_python(event)
        except pydantic.ValidationError as err:
            try:
                pydantic.TypeAdapter(expected).validate_python(event.get("payload"))
            except pydantic.ValidationError as payload_err:
                return [f"(payload as {expected_name})"] + format_errors(payload_err, "$.payload")
            return format_errors(err)
        if not isinstance(validated.payload, expected):
            # the untagged union took another model: show why the expected one does not fit
            try:
                pydantic.TypeAdapter(expected).validate_python(event.get("payload"))
            except pydantic.ValidationError as payload_err:
                return [f"(payload as {expected_name})"] + format_errors(payload_err, "$.payload")
            return [f"$.payload: validated as {type(validated.payload).__name__}, "
                    f"but {event_type} carries a {expected_name}"]
        undeclared_keys(validated, "$", self.open_models, problems, carried)
        return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schema", required=True, choices=sorted(EXPECTED_SDK))
    parser.add_argument("--quiet", action="store_true", help="print failing files only")
    parser.add_argument("--drift-from-input", action="store_true",
                        help="for NAME.output.json, accept undeclared keys that NAME.input.json "
                             "beside it carried with the same value (drift passed on)")
    parser.add_argument("--extra-keys-ok", action="store_true",
                        help="do not report undeclared keys (the inputs of drift cases carry keys the "
                             "models do not declare, on purpose)")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)

    have = sdk_version()
    if have != EXPECTED_SDK[args.schema]:
        print(f"validate.py: schema {args.schema} needs extend-ai=={EXPECTED_SDK[args.schema]}, "
              f"this interpreter has {have} ({sys.executable})", file=sys.stderr)
        return 2
    validator = Validator(args.schema)
    failed = 0
    for path in args.files:
        try:
            event = json.loads(path.read_bytes())
        except (OSError, ValueError) as err:
            problems = [f"cannot read JSON: {err}"]
        else:
            carried: set = frozenset()
            if args.drift_from_input and path.name.endswith(".output.json"):
                source = path.with_name(path.name[: -len(".output.json")] + ".input.json")
                try:
                    carried = carried_pairs(json.loads(source.read_bytes()))
                except (OSError, ValueError) as err:
                    problems = [f"cannot read the input beside it ({source}): {err}"]
                    carried = None
            problems = validator.check(event, carried) if carried is not None else problems
            if args.extra_keys_ok:
                problems = [p for p in problems if ": not a field of " not in p]
        if problems:
            failed += 1
            print(f"FAIL {path} (extend-ai {have}, {args.schema})")
            for line in problems:
                print(f"     {line}")
        elif not args.quiet:
            print(f"ok   {path} ({args.schema})")
    if failed:
        print(f"{failed} of {len(args.files)} file(s) failed against extend-ai {have} ({args.schema})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
