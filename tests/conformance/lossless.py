#!/usr/bin/env python3
"""No value of a golden input may be lost silently.

    python3 tests/conformance/lossless.py [--mappings DIR] [STEP_FOLDER_NAME ...]

For every golden case `mappings/FROM_to_TO/golden/NAME.input.json` -> `NAME.output.json`, every leaf
of the input (a string, number, boolean or null, or an empty object or array) must either

- appear somewhere in the output with the same value (numbers compare by their exact JSON text, so
  12345678901234567890.12345 only matches itself), or
- sit under a path the mapping gives up on purpose. Those paths come from the step's TOML files, for
  the one rule that takes the case (its `events` and `when`):
  * the rule's `lossy` table (paths from the event root, `[*]` = any array index, `*` = any key of
    an object keyed by data, e.g. extraction field names);
  * the step README's machine-readable block between `<!-- dropped-paths:start -->` and
    `<!-- dropped-paths:end -->`: a fenced TOML block with one table per rule name, input path =
    reason, for values dropped on purpose that the way back restores (hence not `lossy`), e.g. `type`;
  * the `drop` ops, `keep_only` ops and `unwrap ... rest = "drop"` ops of the rule's transforms
    (and the empty array an `unwrap` turns into null), and the paths a `set` overwrites or a `map`
    renames the value of (both replace the input value on purpose),
    followed through `apply`, `each` and `switch` to the place they run (as the mapping
    reference does). A drop that runs after a `nest`/`rename` moved its object is found at the moved
    place, not the input's; such drops must also be in the rule's `lossy` table.
  * the case's `NAME.unmapped.json`, when there is one: the fields hookshift drops and reports as
    unmapped (drift: keys the mapping does not know, on an object the target replaces).
  `eventType` is exempt: the rule's `events` table rewrites it.

Each silently lost leaf is reported with its input path and value. Exit status 1 if any, else 0.
Needs Python 3.11+ (tomllib); any interpreter works (no SDK needed).
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ JSON with exact numbers
class Num(str):
    """A JSON number, kept as its text."""


def load_exact(path: Path):
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Num, parse_int=Num,
                      parse_constant=Num)


def leaf_key(value):
    if isinstance(value, Num):
        return ("number", str(value))
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, str):
        return ("string", value)
    if value is None:
        return ("null",)
    if isinstance(value, dict):
        return ("object", "{}")
    if isinstance(value, list):
        return ("array", "[]")
    raise TypeError(type(value))


def leaves(value, path=()):
    """(path segments, leaf) for every leaf; a segment is a str key or an int index."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from leaves(item, path + (key,))
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            yield from leaves(item, path + (i,))
    else:
        yield path, value


def show_path(path) -> str:
    out = "$"
    for seg in path:
        out += f"[{seg}]" if isinstance(seg, int) else f".{seg}"
    return out


# ------------------------------------------------------------------ patterns
def parse_path(text: str) -> list:
    """`a.b[0].c`, `a[*].b`, `a.*.b` -> segments; `.` -> []."""
    if text in (".", ""):
        return []
    segs: list = []
    for part in text.split("."):
        key, rest = (part.split("[", 1) + [""])[:2] if "[" in part else (part, "")
        if key:
            segs.append(key)
        if rest:
            for idx in ("[" + rest).split("[")[1:]:
                idx = idx.rstrip("]")
                segs.append("[*]" if idx == "*" else int(idx))
    return segs


class Pattern:
    """A path pattern from the event root; matches a leaf path it is a prefix of."""

    def __init__(self, segs: list, source: str, except_keys: tuple = ()):
        self.segs = segs
        self.source = source
        self.except_keys = except_keys  # keep_only: any key but these, at the end of segs

    def matches(self, path) -> bool:
        n = len(self.segs)
        if self.except_keys:
            if len(path) <= n:
                return False
        elif len(path) < n:
            return False
        for seg, got in zip(self.segs, path):
            if seg == "[*]":
                if not isinstance(got, int):
                    return False
            elif seg == "*":
                if not isinstance(got, str):
                    return False
            elif seg != got:
                return False
        if self.except_keys:
            nxt = path[n]
            return isinstance(nxt, str) and nxt not in self.except_keys
        return True


# ------------------------------------------------------------------ mapping files
class Step:
    def __init__(self, folder: Path):
        self.folder = folder
        self.transforms: dict[str, list] = {}
        self.rules: list[dict] = []
        # `[lossy.NAME]` tables: entries the rules that name them in `lossy_sets` share
        self.lossy_sets: dict[str, dict] = {}
        # One-way files (`[[rule]]`) of this folder; two-way files (`[[change]]`) of this folder read
        # up, and those of the opposite folder read down (the engine compiles them the same way).
        start, _, end = folder.name.partition("_to_")
        opposite = folder.parent / f"{end}_to_{start}"
        sources = [(f, "up") for f in sorted(folder.glob("*.toml"))]
        if opposite.is_dir():
            sources += [(f, "down") for f in sorted(opposite.glob("*.toml"))]
        for toml_file, way in sources:
            doc = tomllib.loads(toml_file.read_text(encoding="utf-8"))
            two_way = "change" in doc or "direction" in doc or doc.get("two_way") is True
            if not two_way:
                if way == "up":
                    self._read_one_way(doc, toml_file.name)
                continue
            self._read_two_way(doc, toml_file.name, way)

        # The step README's machine-readable "dropped paths" block, when there is one: per rule name,
        # input paths whose values do not reach the output as they were (including values the way
        # back restores, which are therefore not `lossy`).
        self.dropped: dict[str, dict] = {}
        readme = folder / "README.md"
        if readme.exists():
            text = readme.read_text(encoding="utf-8")
            start, end = "<!-- dropped-paths:start -->", "<!-- dropped-paths:end -->"
            if start in text and end in text:
                block = text[text.index(start) + len(start): text.index(end)]
                block = block.strip().removeprefix("```toml").removesuffix("```")
                self.dropped = tomllib.loads(block)

    def rule_for(self, event) -> dict | None:
        event_type = event.get("eventType")
        payload = event.get("payload")
        for rule in self.rules:
            if event_type not in rule.get("events", {}):
                continue
            ok = True
            for field, accepted in rule.get("when", {}).items():
                # `a|b`: the first of the alternative paths that is present
                got = MISSING
                for alternative in field.split("|"):
                    got = get_path(payload, parse_path(alternative))
                    if got is not MISSING:
                        break
                choices = accepted if isinstance(accepted, list) else [accepted]
                if got is MISSING or not any(same(got, c) for c in choices):
                    ok = False
                    break
            if ok:
                return rule
        return None

    def _read_one_way(self, doc: dict, name: str) -> None:
        for transform, body in instances(doc.get("transforms", {})):
            self.transforms[transform] = body.get("ops", [])
        self.lossy_sets.update(doc.get("lossy", {}))
        for rule in doc.get("rule", []):
            rule = dict(rule)
            rule["_file"] = name
            self.rules.append(rule)

    def _read_two_way(self, doc: dict, name: str, way: str) -> None:
        file_way = doc.get("direction")
        self.lossy_sets.update(doc.get("lossy", {}))
        for transform, body in instances(doc.get("transforms", {})):
            written = body.get("direction", file_way)
            if written in (None, way):
                self.transforms[transform] = directed_ops(body.get("ops", []), way, written is not None)
        for change in doc.get("change", []):
            written = change.get("direction", file_way)
            if written not in (None, way):
                continue
            rule = {k: v for k, v in change.items() if k not in ("up", "down", "ops", "events")}
            rule["_file"] = name
            events = change.get("events", {})
            if isinstance(events, list):
                events = {e: e for e in events}
            if written is None:
                rule.pop("when", None)
                rule.update(change.get(way, {}))
                if way == "down":
                    events = {new: old for old, new in events.items()}
            rule["events"] = events
            if "ops" in change:
                rule["ops"] = directed_ops(change["ops"], way, written is not None)
            self.rules.append(rule)

    def drop_patterns(self, rule: dict) -> list[Pattern]:
        out: list[Pattern] = []
        lossy = dict(rule.get("lossy", {}))
        for element in rule.get("lossy_sets", []):
            if isinstance(element, str):
                lossy.update(self.lossy_sets[element])
                continue
            # `{ at = PATH, sets = [...] }`: the sets' payload paths placed under PATH
            for name in element["sets"]:
                for path, why in self.lossy_sets[name].items():
                    lossy[element["at"] + path.removeprefix("payload")] = why
        for path, why in lossy.items():
            out.append(Pattern(parse_path(path), f"lossy: {why}"))
        for path, why in self.dropped.get(rule.get("name"), {}).items():
            out.append(Pattern(parse_path(path), f"README: {why}"))
        if "ops" in rule:
            self._walk(rule["ops"], ["payload"], out, 0)
        elif "transform" in rule or "apply" in rule:  # `apply` is the old spelling of `transform`
            self._walk(self.transforms.get(rule.get("transform", rule.get("apply")), []), ["payload"], out, 0)
        return out

    def _walk(self, ops: list, prefix: list, out: list[Pattern], depth: int) -> None:
        if depth > 32:
            return
        for op in ops:
            if "drop" in op:
                out.append(Pattern(prefix + parse_path(op["drop"]), f"drop: {op.get('reason', '')}"))
            elif "set" in op:
                # overwrites whatever the input had there (e.g. an `object` discriminator)
                out.append(Pattern(prefix + parse_path(op["set"]), "set: replaced on purpose"))
            elif "map" in op:
                # enum value renamed on purpose (the map's own table says how)
                out.append(Pattern(prefix + parse_path(op["map"]), "map: value renamed"))
            elif "keep_only" in op:
                out.append(Pattern(list(prefix), f"keep_only: {op.get('reason', '')}", tuple(op["keep_only"])))
            elif "unwrap" in op:
                base = prefix + parse_path(op["unwrap"])
                # `[]` becomes `null` (documented): the empty array itself is not lost
                out.append(EmptyArrayPattern(base, "unwrap: [] becomes null"))
                if op.get("rest") == "drop":  # elements after the first
                    out.append(RestPattern(base, f"unwrap rest: {op.get('reason', '')}"))
            elif "each" in op:
                # `apply` is the old spelling of `transform` here
                target = self.transforms.get(op.get("transform", op.get("apply", "")), [])
                self._walk(target, prefix + parse_path(op["each"]) + ["[*]"], out, depth + 1)
            elif "apply" in op and "transform" in op:
                self._walk(self.transforms.get(op["transform"], []), prefix + parse_path(op["apply"]), out, depth + 1)
            elif "switch" in op:
                names = list(op.get("cases", {}).values())
                for key in ("otherwise", "missing"):
                    if key in op:
                        names.append(op[key])
                for name in dict.fromkeys(names):
                    self._walk(self.transforms.get(name, []), prefix, out, depth + 1)


def instances(transforms: dict):
    """(name, body) of every transform, a template's (`for = { p = [...] }`) one per position of its
    lists, with `{p}` replaced in its name and in every string of its ops (as the engine does)."""
    for name, body in transforms.items():
        params = body.get("for")
        if not params:
            yield name, body
            continue
        count = len(next(iter(params.values())))
        for i in range(count):
            bind = {"{" + p + "}": values[i] for p, values in params.items()}
            yield substitute(name, bind), {k: substitute(v, bind) for k, v in body.items() if k != "for"}


def substitute(value, bind: dict):
    if isinstance(value, str):
        for key, to in bind.items():
            value = value.replace(key, to)
        return value
    if isinstance(value, list):
        return [substitute(v, bind) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, bind) for k, v in value.items()}
    return value


def directed_ops(ops: list, way: str, one_way: bool) -> list:
    """The ops of a two-way list as they run `way`: going down in reverse, each two-way op inverted
    (only what this check follows: a copy or a constant without `was` becomes a drop, a drop with
    `was` the set of that constant)."""
    if one_way:
        return ops
    out = []
    for op in ops if way == "up" else reversed(ops):
        only = op.get("only")
        if only not in (None, way):
            continue
        if only is None and way == "down":
            if "copy" in op:
                op = {"drop": op["to"], "reason": f"a copy of {op['copy']}"}
            elif "set" in op and "was" not in op:
                op = {"drop": op["set"], "reason": op.get("note", "a constant")}
            elif "rename" in op:
                op = {"rename": op["to"], "to": op["rename"]}
            elif "drop" in op and "was" in op:
                op = {"set": op["drop"], "value": op["was"]}
        out.append(op)
    return out


class RestPattern(Pattern):
    """Elements 1.. of an array."""

    def matches(self, path) -> bool:
        n = len(self.segs)
        if len(path) <= n or not Pattern(self.segs, "").matches(path[:n]):
            return False
        return isinstance(path[n], int) and path[n] >= 1


class EmptyArrayPattern(Pattern):
    """Exactly the (empty) array an `unwrap` turns into null."""

    def matches(self, path) -> bool:
        return len(path) == len(self.segs) and Pattern(self.segs, "").matches(path)


MISSING = object()


def get_path(value, segs):
    for seg in segs:
        if isinstance(seg, int) and isinstance(value, list) and seg < len(value):
            value = value[seg]
        elif isinstance(seg, str) and isinstance(value, dict) and seg in value:
            value = value[seg]
        else:
            return MISSING
    return value


def same(got, wanted) -> bool:
    if isinstance(got, Num):
        return isinstance(wanted, (int, float)) and not isinstance(wanted, bool) and float(got) == wanted
    return got == wanted and type(got) is type(wanted) or (got == wanted and not isinstance(wanted, bool))


# ------------------------------------------------------------------ check
def check_case(step: Step, name: str, input_path: Path, output_path: Path) -> list[str]:
    try:
        event = load_exact(input_path)
    except (OSError, ValueError) as err:
        return [f"{input_path}: cannot read: {err}"]
    if not output_path.exists():
        return [f"{output_path}: missing (every golden input needs its output)"]
    try:
        output = load_exact(output_path)
    except (OSError, ValueError) as err:
        return [f"{output_path}: cannot read: {err}"]
    rule = step.rule_for(event)
    if rule is None:
        return [f"{name}: no rule of {step.folder.name} takes eventType {event.get('eventType')!r}"]
    patterns = step.drop_patterns(rule)
    # Fields no mapping names (drift) that hookshift drops and reports: NAME.unmapped.json.
    unmapped = input_path.with_name(input_path.name.replace(".input.json", ".unmapped.json"))
    if unmapped.exists():
        for path in json.loads(unmapped.read_text()):
            patterns.append(Pattern(parse_path(path), "reported as an unmapped field"))
    present = {leaf_key(v) for _, v in leaves(output)}
    lost = []
    for path, value in leaves(event):
        if path == ("eventType",):
            continue
        if leaf_key(value) in present:
            continue
        if any(p.matches(path) for p in patterns if not isinstance(p, EmptyArrayPattern)):
            continue
        if value == [] and any(p.matches(path) for p in patterns if isinstance(p, EmptyArrayPattern)):
            continue
        shown = json.dumps(value, ensure_ascii=False) if not isinstance(value, Num) else str(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        lost.append(f"{name}: {show_path(path)} = {shown} is not in the output and "
                    f"rule {rule.get('name')!r} ({rule['_file']}) does not drop it")
    return lost


def main(argv) -> int:
    parser = argparse.ArgumentParser(description="Every golden input value reaches the output or is dropped on purpose")
    parser.add_argument("--mappings", type=Path, default=ROOT / "mappings")
    parser.add_argument("--golden-dir", type=Path, action="append", default=[],
                        help="extra folder of NAME.input.json/NAME.output.json cases for the steps named (e.g. generated ones)")
    parser.add_argument("steps", nargs="*", help="step folder names (default: all)")
    args = parser.parse_args(argv)

    folders = [f for f in sorted(args.mappings.iterdir()) if f.is_dir() and "_to_" in f.name]
    if args.steps:
        folders = [f for f in folders if f.name in args.steps]
    problems, cases = [], 0
    for folder in folders:
        step = Step(folder)
        names = {rule.get("name") for rule in step.rules}
        for unknown in sorted(set(step.dropped) - names):
            problems.append(f"{folder.name}/README.md: dropped-paths block names rule {unknown!r}, which no file of the step defines")
        dirs = [folder / "golden"] + (args.golden_dir if args.steps else [])
        for gdir in dirs:
            for input_path in sorted(gdir.glob("*.input.json")):
                name = f"{folder.name}/{input_path.name[: -len('.input.json')]}"
                output_path = input_path.with_name(input_path.name.replace(".input.json", ".output.json"))
                cases += 1
                problems += check_case(step, name, input_path, output_path)
    for line in problems:
        print(f"LOST {line}")
    print(f"lossless: {cases} golden case(s), {len(problems)} silently lost value(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
