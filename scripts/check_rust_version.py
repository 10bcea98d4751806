#!/usr/bin/env python3
"""Checks that Cargo.toml's `rust-version` is at least what the locked dependencies need.

    python3 scripts/check_rust_version.py

Only one toolchain is installed where hookshift is built, so the minimum cannot be found by building with
older ones (`cargo +1.xx check`, cargo-msrv). Instead: every crate of Cargo.lock that is part of the
build (`cargo metadata --locked`, the resolved graph of all targets and platforms) declares the oldest
Rust it builds with (its `rust-version`), and a build needs the highest of those. The check fails when
Cargo.toml claims less (a user with that toolchain would get an error from some dependency), and warns
when it claims more (then it is not the real minimum). After `cargo update`, re-run it and set
`rust-version` to the value it prints.
"""
import json
import subprocess
import sys


def version(text):
    """`1.89` and `1.89.0` alike -> (1, 89, 0)."""
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    meta = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--locked"],
                                     check=True, capture_output=True, text=True).stdout)
    in_graph = {node["id"] for node in meta["resolve"]["nodes"]}
    root = meta["resolve"]["root"]
    ours = next(p for p in meta["packages"] if p["id"] == root)
    needed = max(((version(p["rust_version"]), p["name"], p["version"]) for p in meta["packages"]
                  if p["id"] in in_graph and p["id"] != root and p.get("rust_version")), default=None)
    if needed is None:
        print("no locked dependency declares a rust-version")
        return 0
    claimed = ours.get("rust_version")
    need_text = ".".join(map(str, needed[0][:2] if needed[0][2] == 0 else needed[0]))
    print(f"locked dependencies need Rust {need_text} (highest: {needed[1]} {needed[2]}); "
          f"Cargo.toml says rust-version = {claimed!r}")
    if claimed is None or version(claimed) < needed[0]:
        print(f"FAIL: set rust-version = \"{need_text}\" in Cargo.toml")
        return 1
    if version(claimed) > needed[0]:
        print(f"note: rust-version is above the dependencies' minimum {need_text}: say why in Cargo.toml, or lower it")
    print("rust-version: 1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
