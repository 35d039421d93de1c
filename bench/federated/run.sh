#!/usr/bin/env bash
# Federated bench: round time and bytes per round for a ~1M-parameter model over loopback,
# 3 oncolens Rust stations vs 3 Flower Python SuperNodes, same FedAvg ServerApp.
# Writes bench/federated/results.md. Needs python3 and PyPI (first run) for the Flower venv.
#   bash bench/federated/run.sh [--params N] [--rounds R]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
venv="$(bash fixtures/flower/setup_venv.sh | tail -n 1)"
cargo build --release -p oncolens-flower --example flower_station
exec "$venv/bin/python" bench/federated/bench.py --venv "$venv" \
  --station "$root/target/release/examples/flower_station" "$@"
