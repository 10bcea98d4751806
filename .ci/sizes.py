#!/usr/bin/env python3
"""Rooms stay small: no source file over 800 lines before its tests, no function over 100 lines.

A file's tests start at its first `#[cfg(test)]` (a file that is all tests, `tests.rs` or
`*_tests.rs`, counts none); a function runs from its `fn` line to the brace that closes its body.

Usage: .ci/sizes.py [--report]   (--report: print what is over and exit 0)
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
MAX_FILE_LINES = 800
MAX_FUNCTION_LINES = 100
FN = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(\w+)")


def body_lines(lines):
    """The lines before the file's tests."""
    for i, line in enumerate(lines):
        if line.strip().startswith("#[cfg(test)]"):
            return lines[:i]
    return lines


def strip(line):
    """The line without strings, chars and comments, for counting braces."""
    line = re.sub(r'"(?:\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(?:\\.|[^'\\])'", "''", line)
    return line.split("//", 1)[0]


def functions(lines):
    """(name, first line, length) of every function with a body."""
    out = []
    i = 0
    while i < len(lines):
        match = FN.match(lines[i])
        if not match:
            i += 1
            continue
        depth, started, j = 0, False, i
        while j < len(lines):
            code = strip(lines[j])
            if not started and ";" in code and "{" not in code:
                break  # a declaration without a body
            depth += code.count("{") - code.count("}")
            started = started or "{" in code
            if started and depth <= 0:
                out.append((match.group(1), i + 1, j - i + 1))
                break
            j += 1
        i += 1
    return out


def main():
    report = "--report" in sys.argv
    problems = []
    for path in sorted((ROOT / "src").rglob("*.rs")):
        if path.name == "tests.rs" or path.name.endswith("_tests.rs"):
            continue
        lines = body_lines(path.read_text().splitlines())
        rel = path.relative_to(ROOT)
        if len(lines) > MAX_FILE_LINES:
            problems.append(f"{rel}: {len(lines)} lines before its tests (most {MAX_FILE_LINES})")
        for name, line, length in functions(lines):
            if length > MAX_FUNCTION_LINES:
                problems.append(f"{rel}:{line}: fn {name} is {length} lines (most {MAX_FUNCTION_LINES})")
    for problem in problems:
        print(problem)
    print(f"sizes: {len(problems)} over")
    return 0 if report or not problems else 1


if __name__ == "__main__":
    sys.exit(main())
