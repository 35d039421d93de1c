#!/usr/bin/env bash
# Ingest benchmark: load the same DICOM CT series with oncolens, pydicom+numpy and SimpleITK.
# Usage: bench/ingest/run.sh [series-folder] [runs]
# Default input: the LIDC-IDRI-0001 chest CT in ../shared/data/lidc_idri_0001 (if present).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
default="$root/../shared/data/lidc_idri_0001"
input="${1:-}"
if [ -z "$input" ]; then
  if [ -d "$default" ]; then
    input="$(dirname "$(find "$default" -name '*.dcm' | head -1)")"
  else
    echo "no input: $default missing; pass a series folder as \$1" >&2
    exit 2
  fi
fi
runs="${2:-7}"
"$root/bench/setup_venv.sh" >/dev/null
py="$root/.venv/bin/python"
(cd "$root" && cargo build --release -q -p oncolens-dicom --example load_series)
bin="$root/target/release/examples/load_series"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for tool in oncolens pydicom sitk; do
  for i in $(seq "$runs"); do
    case $tool in
      oncolens) "$bin" "$input" --sha256 ;;
      *) "$py" "$here/peers.py" "$tool" "$input" ;;
    esac >>"$tmp/$tool.jsonl"
  done
done

nfiles=$(find "$input" -name '*.dcm' | wc -l)
mb=$(du -sm "$input" | cut -f1)
"$py" - "$tmp" "$runs" "$input" "$nfiles" "$mb" <<'PY' | tee "$here/results.md"
import json, os, platform, statistics, subprocess, sys
tmp, runs, inp, nfiles, mb = sys.argv[1:6]
res = {}
for tool in ["oncolens", "pydicom", "sitk"]:
    rows = [json.loads(l) for l in open(os.path.join(tmp, tool + ".jsonl"))]
    res[tool] = (statistics.median(r["seconds"] for r in rows),
                 statistics.median(r["peak_rss_kib"] for r in rows) / 1024, rows[0]["size"], rows[0]["mean"], rows[0]["sha256"])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
print("# Ingest benchmark: one CT series\n")
print(f"Input: `{inp}` ({nfiles} files, {mb} MB); {runs} runs per tool, median shown.\n")
print(f"Machine: {cpu}, {os.cpu_count()} logical CPUs, {int(mem)//1024} MiB RAM, {platform.platform()}\n")
print(f"Command: `bench/ingest/run.sh` (or `bench/ingest/run.sh <series-folder> [runs]`)\n")
print("| tool | median s | peak RSS MiB | size | mean HU | HU sha256 (f32) | oncolens time / peer | oncolens RSS / peer |")
print("|---|---|---|---|---|---|---|---|")
o = res["oncolens"]
names = {"oncolens": "oncolens (read_series, release)", "pydicom": "pydicom+numpy (read, sort, stack, rescale)", "sitk": "SimpleITK ImageSeriesReader (float32)"}
for t, (s, r, size, mean, sha) in res.items():
    ratio = "" if t == "oncolens" else f"{o[0]/s:.2f}"
    rr = "" if t == "oncolens" else f"{o[1]/r:.2f}"
    print(f"| {names[t]} | {s:.3f} | {r:.0f} | {size} | {mean:.3f} | {sha[:12]} | {ratio} | {rr} |")
same = len({v[4] for v in res.values()}) == 1
print(f"\nHU arrays bit-identical across the three tools: {'yes' if same else 'NO'}.")
print("oncolens uses the default GapPolicy::Error; the LIDC folder also holds an XML annotation")
print("file, which is skipped with a SkippedFile warning. All runs read from a warm page cache.\n")
print("Times are measured in-process around the load only (Python imports excluded).")
print("Peak RSS is the process high-water mark (VmHWM / ru_maxrss): for the Python tools it")
print("includes the interpreter and imported modules (about 30-90 MiB baseline).")
PY
