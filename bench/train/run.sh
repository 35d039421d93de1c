#!/usr/bin/env bash
# Training benchmark: the same 3D CNN, batch and optimiser in oncolens (burn, pure-Rust CPU
# backend) and in PyTorch (CPU), same thread count. Prints time per training step, inference
# time per batch and peak memory, with oncolens/PyTorch ratios, and writes results.md.
# Usage: [TORCH_PYTHON=python] bench/train/run.sh [threads] [steps]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
threads="${1:-2}"
steps="${2:-15}"
# TORCH_PYTHON=/path/to/python: use an interpreter that already has torch.
if [ -n "${TORCH_PYTHON:-}" ]; then
  py="$TORCH_PYTHON"
else
  "$root/bench/setup_venv.sh" >/dev/null
  py="$root/.venv/bin/python"
  "$py" -c "import torch" 2>/dev/null || "$root/.venv/bin/pip" install -q torch --index-url https://download.pytorch.org/whl/cpu 2>/dev/null || "$root/.venv/bin/pip" install -q torch
fi
(cd "$root" && cargo build --release -q -p oncolens-nn --example bench_cnn)
bin="$root/target/release/examples/bench_cnn"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for cfg in "8 32 1" "4 48 1" "8 32 2"; do
  set -- $cfg
  RAYON_NUM_THREADS="$threads" "$bin" --batch "$1" --side "$2" --steps "$steps" --stem-stride "$3" >>"$tmp/oncolens.jsonl"
  OMP_NUM_THREADS="$threads" "$py" "$here/torch_cnn.py" --batch "$1" --side "$2" --steps "$steps" --stem-stride "$3" --threads "$threads" >>"$tmp/torch.jsonl"
done
"$py" - "$tmp" "$threads" "$steps" <<'PY' | tee "$here/results.md"
import json, os, platform, sys
tmp, threads, steps = sys.argv[1:4]
o = [json.loads(l) for l in open(os.path.join(tmp, "oncolens.jsonl"))]
t = [json.loads(l) for l in open(os.path.join(tmp, "torch.jsonl"))]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print("# Training benchmark: 3D CNN, oncolens vs PyTorch on CPU\n")
print(f"Machine: {cpu}, {threads} threads for both tools, {platform.platform()}; median of {steps} steps after 3 warm-up steps.\n")
print("Command: `[TORCH_PYTHON=python] bench/train/run.sh [threads] [steps]`\n")
print("| batch x crop | stem stride | params (oncolens / torch) | oncolens step s | PyTorch step s | step ratio | oncolens infer s | PyTorch infer s | infer ratio | oncolens peak MiB | PyTorch peak MiB | memory ratio |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
configs = ["1", "1", "2"]
for a, b, s in zip(o, t, configs):
    print(f"| {a['batch']} x {a['side']}^3 | {s} | {a['params']} / {b['params']} | {a['train_step_s']:.4f} | {b['train_step_s']:.4f} | {a['train_step_s']/b['train_step_s']:.2f} | {a['infer_batch_s']:.4f} | {b['infer_batch_s']:.4f} | {a['infer_batch_s']/b['infer_batch_s']:.2f} | {a['peak_rss_kib']/1024:.0f} | {b['peak_rss_kib']/1024:.0f} | {a['peak_rss_kib']/b['peak_rss_kib']:.2f} |")
print("\nRatios are oncolens / PyTorch: below 1 means oncolens is faster or smaller.")
PY
