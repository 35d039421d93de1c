#!/usr/bin/env bash
# Federated vs centralised training on the sample cohort, over several split seeds.
#
# One run of `oncolens federate` trains the same network twice on the same training patients
# (pooled = centralised; one station per site = federated) and scores both on the same held-out
# patients. With ~50 test patients one run's AUC difference is noisy (its 95% CI spans about
# +-0.15), so this script repeats it for several seeds and reports the mean difference.
#
# Usage: bash bench/fedcompare/run.sh [COHORT] [SEEDS] [STRATEGY] [EXTRA ARGS...]
#   COHORT    a cohort folder (default: demo-out/cohort, made by `oncolens demo`)
#   SEEDS     how many seeds (default 5)
#   STRATEGY  fedavg | fedprox | fedadam (default fedavg)
set -euo pipefail
cd "$(dirname "$0")/../.."
cohort=${1:-demo-out/cohort}
seeds=${2:-5}
strategy=${3:-fedavg}
shift $(( $# < 3 ? $# : 3 ))
out=bench/fedcompare/out
mkdir -p "$out"
bin=${BIN:-./target/release/oncolens}
[ -n "${BIN:-}" ] || cargo build --release -q -p oncolens-cli
for s in $(seq 1 "$seeds"); do
  "$bin" federate --cohort "$cohort" --out "$out/seed$s-$strategy" \
    --strategy "$strategy" --seed "$s" "$@" > "$out/seed$s-$strategy.log" 2>&1
  tail -2 "$out/seed$s-$strategy.log" | head -1
done
python3 - "$out" "$seeds" "$strategy" <<'PY'
import json, statistics, sys
out, seeds, strategy = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = []
for s in range(1, seeds + 1):
    m = json.load(open(f"{out}/seed{s}-{strategy}/metrics.json"))
    rows.append((s, m["federated"]["auc"], m["centralised"]["auc"], m["test_patients"]))
print(f"\n| seed | test patients | federated AUC ({strategy}) | centralised AUC | difference |")
print("|---|---|---|---|---|")
for s, f, c, n in rows:
    print(f"| {s} | {n} | {f:.3f} | {c:.3f} | {f - c:+.3f} |")
d = [f - c for _, f, c, _ in rows]
sd = statistics.stdev(d) if len(d) > 1 else float("nan")
print(f"| mean | | {statistics.mean(r[1] for r in rows):.3f} | {statistics.mean(r[2] for r in rows):.3f} "
      f"| {statistics.mean(d):+.3f} (sd {sd:.3f}, se {sd / len(d) ** 0.5:.3f}) |")
PY
