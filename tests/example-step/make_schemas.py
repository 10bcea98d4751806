"""Writes the worked example's 2026-09-01 schemas for the event types its step changes or adds,
from the 2026-02-09 schemas (generated from extend-ai 1.20.0) with the example's changes applied:

- parse_run.processed / parse_run.failed: failureReason and failureMessage are error.reason and
  error.message; the status PROCESSED is SUCCEEDED;
- parse_run.started: new, a ParseRunStatus whose status is PROCESSING;
- workflow.created / workflow.deleted: the Workflow's `name` is `displayName`.

The other event types of 2026-09-01 are those of 2026-02-09 unchanged (assemble.sh copies them);
workflow.deployed is removed. Run from the repository root: python3 tests/example-step/make_schemas.py
"""
import copy
import json
from pathlib import Path

SOURCE = Path("schemas/2026-02-09")
TARGET = Path("tests/example-step/schemas/2026-09-01")


def parse_run(schema: dict, event_type: str, statuses: list[str]) -> dict:
    schema = copy.deepcopy(schema)
    status = schema["$defs"]["ParseRunStatus"]["properties"]
    reason = status.pop("failureReason")
    message = status.pop("failureMessage")
    schema["$defs"]["ParseRunError"] = {
        "additionalProperties": True,
        "description": "Why a parse run failed.",
        "properties": {"reason": reason, "message": message},
        "title": "ParseRunError",
        "type": "object",
    }
    status["error"] = {"anyOf": [{"$ref": "#/$defs/ParseRunError"}, {"type": "null"}], "default": None}
    schema["$defs"]["ParseRunStatusStatus"]["enum"] = statuses
    schema["properties"]["eventType"]["const"] = event_type
    schema["properties"]["eventType"]["default"] = event_type
    return schema


def workflow(schema: dict) -> dict:
    schema = copy.deepcopy(schema)
    definition = schema["$defs"]["Workflow"]
    definition["properties"]["displayName"] = definition["properties"].pop("name")
    definition["required"] = ["displayName" if r == "name" else r for r in definition["required"]]
    return schema


def main() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    statuses = ["PROCESSING", "SUCCEEDED", "FAILED", "__PARSERUNSTATUSSTATUS_UNKNOWN__"]
    out = {}
    for event_type in ("parse_run.processed", "parse_run.failed"):
        source = json.loads((SOURCE / f"{event_type}.json").read_text())
        out[event_type] = parse_run(source, event_type, statuses)
    started = json.loads((SOURCE / "parse_run.processed.json").read_text())
    out["parse_run.started"] = parse_run(started, "parse_run.started", ["PROCESSING"])
    out["parse_run.started"]["title"] = "WebhookEvent_ParseRunStarted"
    for event_type in ("workflow.created", "workflow.deleted"):
        out[event_type] = workflow(json.loads((SOURCE / f"{event_type}.json").read_text()))
    for event_type, schema in out.items():
        (TARGET / f"{event_type}.json").write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
