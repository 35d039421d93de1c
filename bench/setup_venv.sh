#!/usr/bin/env bash
# Creates .venv at the repository root with the peer tools used by fixture scripts and benchmarks.
# The Rust build and `cargo test` never need it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet -r "$root/bench/requirements.txt"
echo "$venv"
