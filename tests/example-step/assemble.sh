#!/bin/sh
# Assembles the worked example's mapping set into DIR (and, given SCHEMAS_DIR, its schemas): the shipped steps (mappings/) and the
# example's step folders, version order and 2026-09-01 identities. Run from the repository root.
set -eu
out=$1
here=$(dirname "$0")
mkdir -p "$out"
cp -R mappings/. "$out"/
for step in "$here"/*_to_*; do cp -R "$step" "$out"/; done
cp "$here/versions.toml" "$out/versions.toml"
printf '\n' >> "$out/identity.toml"
cat "$here/identity.toml" >> "$out/identity.toml"

# The schemas, when asked for (SCHEMAS_DIR): the shipped versions', and for 2026-09-01 those the
# example wrote over the 2026-02-09 event types it keeps (workflow.deployed is removed).
if [ $# -ge 2 ]; then
    schemas=$2
    mkdir -p "$schemas/2026-09-01"
    cp -R schemas/. "$schemas"/
    for file in schemas/2026-02-09/*.json; do
        [ "$(basename "$file")" = workflow.deployed.json ] || cp "$file" "$schemas/2026-09-01/"
    done
    cp "$here"/schemas/2026-09-01/*.json "$schemas/2026-09-01/"
fi
