#!/usr/bin/env bash
# Explanation benchmark: Integrated Gradients (50 Gauss-Legendre steps), occlusion (4^3 window,
# stride 2: 3375 occluded copies, 16 per forward pass) and Grad-CAM (after block 1) on the
# demo-size 3D CNN (32^3 crop, stem stride 2, blocks 16/32/32, seeded random weights shared
# through SafeTensors), oncolens (burn, pure-Rust CPU backend) vs Captum (PyTorch CPU), on 1 and
# 2 threads. Prints median times and oncolens/Captum ratios and writes results.md.
# Usage: bench/explain/run.sh [reps]    (Python: PY=/path/to/python with fixtures/explain/requirements.txt)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
reps="${1:-3}"
py="${PY:-$root/.venv/bin/python}"
"$py" -c "import torch, captum, safetensors" || {
  echo "needs torch, captum, safetensors: $py -m pip install -r $root/fixtures/explain/requirements.txt" >&2
  exit 1
}
(cd "$root" && cargo build --release -q -p oncolens-explain --example bench_explain)
bin="$root/target/release/examples/bench_explain"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for threads in 1 2; do
  RAYON_NUM_THREADS="$threads" "$bin" "$tmp/model" "$reps" >>"$tmp/oncolens.jsonl"
  OMP_NUM_THREADS="$threads" "$py" "$here/captum_bench.py" "$tmp/model" --threads "$threads" --reps "$reps" >>"$tmp/captum.jsonl"
done
"$py" - "$tmp" "$reps" <<'PY' | tee "$here/results.md"
import json, os, platform, sys
tmp, reps = sys.argv[1:3]
o = [json.loads(l) for l in open(os.path.join(tmp, "oncolens.jsonl"))]
c = [json.loads(l) for l in open(os.path.join(tmp, "captum.jsonl"))]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print("# Explanation benchmark: oncolens vs Captum on CPU\n")
print(f"Machine: {cpu}, {platform.platform()}; {c[0]['tool']}; median of {reps} runs after a warm-up "
      "(occlusion: a single run of its 3375 forward passes).\n")
print("Model: the demo's image path (32^3 crop, stem stride 2, blocks 16/32/32, gated fusion, "
      "image only), seeded random weights exported once to SafeTensors and loaded by both tools; "
      "the same input. IG: 50 Gauss-Legendre steps from a zero baseline (oncolens 25 points per "
      "pass, the two passes in parallel, Captum all 50 in one pass); occlusion: 4^3 window, "
      "stride 2, baseline 0, 16 copies per "
      "pass in both (oncolens: passes in parallel); Grad-CAM: after block 1, upsampled trilinearly "
      "to 32^3.\n")
print("Command: `bench/explain/run.sh [reps]`\n")
print("| method | threads | oncolens s | Captum s | ratio (oncolens / Captum) | max rel. diff of maps |")
print("|---|---|---|---|---|---|")
for a, b in zip(o, c):
    for key, name, d in [("ig_50_s", "Integrated Gradients (50)", "ig"), ("occlusion_s", "occlusion (3375 windows)", "occlusion"), ("grad_cam_s", "Grad-CAM", "grad_cam")]:
        print(f"| {name} | {a['threads']} | {a[key]:.3f} | {b[key]:.3f} | {a[key]/b[key]:.2f} | {b['max_rel_diff'][d]:.1e} |")
print("\nRatios below 1 mean oncolens is faster. The last column compares the two tools' maps "
      "(relative to max(|Captum|, 1e-2 of the map's peak)).")
PY
