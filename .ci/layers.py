#!/usr/bin/env python3
"""The house's layers, checked: no module imports one above it, and no import circle spans two
top-level modules.

Reads every `crate::NAME` path in src/ (in `use` lines and inline), and `super::NAME` from a file
directly under a top-level module's folder, as a reference from the file's top-level module to NAME.
Layers, from the bottom (lib.rs's layout section says the same):

  1. leaves: json, metrics, secret, clock
  2. config
  3. provider, mapping, schema, shadow, outbound (HTTP out: delivery client, fenced fetch)
  4. ledger
  5. compiled runtime state: route, state, reload, status
  6. pipeline (with what only it uses: its error, the body budget and shedding, the background
     scan and output check)
  7. server
  8. cli and the wiring (lib.rs, main.rs, logging)

Usage: .ci/layers.py [--report]   (--report: print the violations and exit 0 all the same)
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LAYERS = {
    1: ["json", "metrics", "secret", "clock"],
    2: ["config"],
    3: ["provider", "mapping", "schema", "shadow", "outbound"],
    4: ["ledger"],
    5: ["route", "state", "reload", "status"],
    6: ["pipeline"],
    7: ["server"],
    8: ["cli", "wiring", "logging", "lib", "main"],
}
LAYER_OF = {module: layer for layer, modules in LAYERS.items() for module in modules}
PATH = re.compile(r"\bcrate::(\w+)")
USE_GROUP = re.compile(r"\buse\s+crate::\{([^;]*)\}", re.S)


def module_of(path):
    rel = path.relative_to(ROOT / "src")
    return rel.parts[0].removesuffix(".rs")


def code_of(text):
    """The text without comments and the tests' module (a test may reach anywhere)."""
    text = re.sub(r"//[^\n]*", "", text)
    cut = re.search(r"#\[cfg\(test\)\]\s*mod \w+", text)
    return text[: cut.start()] if cut else text


def references(path):
    code = code_of(path.read_text())
    found = set(PATH.findall(code))
    for group in USE_GROUP.findall(code):
        found.update(re.findall(r"(?:^|[,{]\s*)(\w+)", group))
    return found


def root_modules():
    """The crate's top-level modules (lib.rs's `mod` lines); any other `crate::NAME` is an item of
    the crate root, the wiring's."""
    text = (ROOT / "src/lib.rs").read_text()
    return set(re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)", text, re.M))


def main():
    report = "--report" in sys.argv
    modules = root_modules()
    edges = {}
    upward = []
    unknown = set()
    for path in sorted((ROOT / "src").rglob("*.rs")):
        if path.name == "tests.rs" or path.name.endswith("_tests.rs"):
            continue  # a test may reach anywhere
        source = module_of(path)
        if source not in LAYER_OF:
            unknown.add(source)
            continue
        for target in references(path):
            if target not in modules:
                target = "lib"
            if target == source or target in ("self", "super"):
                continue
            if target not in LAYER_OF:
                unknown.add(target)
                continue
            edges.setdefault(source, set()).add(target)
            if LAYER_OF[target] > LAYER_OF[source]:
                upward.append(f"{path.relative_to(ROOT)}: {source} (layer {LAYER_OF[source]}) "
                              f"imports {target} (layer {LAYER_OF[target]})")
    circles = strongly_connected(edges)
    problems = upward + [f"import circle: {' -> '.join(sorted(c))}" for c in circles]
    problems += [f"module without a layer: {m} (add it to .ci/layers.py and lib.rs)" for m in sorted(unknown)]
    for line in problems:
        print(line)
    print(f"layers: {len(upward)} upward import(s), {len(circles)} circle(s), {len(unknown)} module(s) without a layer")
    return 0 if report or not problems else 1


def strongly_connected(edges):
    """Tarjan: the components of more than one module."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(component)

    for v in list(edges):
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    sys.exit(main())
