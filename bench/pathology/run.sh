#!/usr/bin/env bash
# Pathology benchmark: Macenko stain normalisation of the 15 real CRC-VAL-HE-7K tiles in
# ../shared (oncolens stain-normalise vs torchstain 1.3 numpy, as a Python user writes it), and
# every 240-pixel level-0 tile of the real CMU-1 region written as PNG (oncolens slide --tiles
# with --min-tissue 0 vs OpenSlide 4 read_region + Pillow). Wall time of a fresh process, median
# of N runs, 2 threads for oncolens (the peers run on one core); prints ratios, writes results.md.
# Usage: bench/pathology/run.sh [reps]   (PY: a python with torchstain, openslide-python,
# openslide-bin, pillow; ONCOLENS_SHARED_DATA: the shared data folder)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
reps="${1:-5}"
py="${PY:-$root/.venv/bin/python}"
data="${ONCOLENS_SHARED_DATA:-$root/../shared/data}"
tiles="$data/pathology_patches/nct_crc_he_val7k"
slide="$data/pathology_wsi/cmu-1-small-region.svs"
ref="$root/fixtures/pathology/target.png"
"$py" -c "import torchstain, openslide, PIL" || { echo "needs torchstain, openslide-python, openslide-bin, pillow in $py" >&2; exit 1; }
[ -f "$slide" ] || { echo "no $slide (set ONCOLENS_SHARED_DATA)" >&2; exit 1; }
[ "${SKIP_BUILD:-0}" = 1 ] || (cd "$root" && cargo build --release -q -p oncolens-cli)
bin="${CARGO_TARGET_DIR:-$root/target}/release/oncolens"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
wall() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
for r in $(seq "$reps"); do
  rm -rf "$tmp"/o* "$tmp"/p*; mkdir -p "$tmp/p1" "$tmp/p2"
  echo "stain oncolens $(RAYON_NUM_THREADS=2 wall "$bin" stain-normalise --input "$tiles" --reference "$ref" --out "$tmp/o1")" >>"$tmp/times"
  echo "stain peer $(wall "$py" "$here/peer.py" stain "$tiles" "$ref" "$tmp/p1")" >>"$tmp/times"
  echo "tiles oncolens $(RAYON_NUM_THREADS=2 wall "$bin" slide "$slide" --tiles "$tmp/o2" --size 240 --min-tissue 0)" >>"$tmp/times"
  echo "tiles peer $(wall "$py" "$here/peer.py" tiles "$slide" "$tmp/p2")" >>"$tmp/times"
done
"$py" - "$tmp/times" "$reps" <<'PY' | tee "$here/results.md"
import platform, statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {}
for task, tool, t in rows:
    med.setdefault((task, tool), []).append(float(t))
med = {k: statistics.median(v) for k, v in med.items()}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print("# Pathology benchmark\n")
print(f"Machine: {cpu}, {platform.platform()}; wall time of a fresh process (imports and start-up included), median of {sys.argv[2]}; oncolens on 2 threads.\n")
print("| task | oncolens | peer | ratio (oncolens / peer) |\n|---|---|---|---|")
names = {"stain": ("Macenko, 15 real 224x224 CRC-VAL-HE-7K tiles to PNG", "torchstain 1.3 (numpy)"),
         "tiles": ("all 108 level-0 240-px tiles of the CMU-1 region to PNG", "OpenSlide 4 read_region + Pillow")}
for task in ["stain", "tiles"]:
    o, p = med[(task, "oncolens")], med[(task, "peer")]
    print(f"| {names[task][0]} | {o:.3f} s | {names[task][1]}: {p:.3f} s | **{o / p:.2f}** ({p / o:.1f}x faster) |")
PY
