#!/usr/bin/env bash
# Federated vs centralised training on the sample cohort, by K-fold cross-validation.
#
# One run of `oncolens federate --folds K` trains the same network per fold on the same
# training patients three ways: federated (one station per site), centralised with the same
# rounds (one station holding every patient: the same loop, schedule and round selection), and
# centralised as `oncolens train` does it (early stopping); all score the fold's held-out
# patients, so every labelled patient is predicted once by each model. The
# AUCs are those of the pooled out-of-fold predictions (all 200 patients of the sample cohort,
# not ~50 of one hold-out split), and `auc_difference_ci95` is a paired bootstrap over
# patients. Repeating for several seeds shows how much training randomness moves the result.
#
# Usage: bash bench/fedcompare/run.sh [COHORT] [SEEDS] [STRATEGY] [FOLDS] [EXTRA ARGS...]
#   COHORT    a cohort folder (default: demo-out/cohort, made by `oncolens demo`)
#   SEEDS     how many seeds (default 2)
#   STRATEGY  fedavg | fedprox | fedadam (default fedavg)
#   FOLDS     cross-validation folds (default 5)
#   TAG=name  (environment) writes to bench/fedcompare/out-name, e.g. TAG=iid with --partition random
set -euo pipefail
cd "$(dirname "$0")/../.."
cohort=${1:-demo-out/cohort}
seeds=${2:-2}
strategy=${3:-fedavg}
folds=${4:-5}
shift $(( $# < 4 ? $# : 4 ))
out=bench/fedcompare/out${TAG:+-$TAG}
mkdir -p "$out"
bin=${BIN:-./target/release/oncolens}
[ -n "${BIN:-}" ] || cargo build --release -q -p oncolens-cli
for s in $(seq 1 "$seeds"); do
  run="$out/seed$s-$strategy-cv$folds"
  start=$(date +%s)
  "$bin" federate --cohort "$cohort" --out "$run" --strategy "$strategy" --seed "$s" \
    --folds "$folds" "$@" > "$run.log" 2>&1
  echo "$(tail -2 "$run.log" | head -1) [$(( $(date +%s) - start )) s]"
done
python3 - "$out" "$seeds" "$strategy" "$folds" <<'PY'
import json, statistics, sys
out, seeds, strategy, folds = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = []
for s in range(1, seeds + 1):
    m = json.load(open(f"{out}/seed{s}-{strategy}-cv{folds}/metrics.json"))
    f, c, e = m["federated"], m["centralised"], m["centralised_early_stopping"]
    rows.append((s, m["test_patients"], f["auc"], f["auc_ci"], c["auc"], c["auc_ci"],
                 m["auc_difference"], m["auc_difference_ci95"], e["auc"]))
print(f"\n| seed | patients (out-of-fold) | federated AUC ({strategy}) [95% CI] | "
      f"centralised AUC, same rounds [95% CI] | difference [paired 95% CI] | "
      f"centralised, early stopping |")
print("|---|---|---|---|---|---|")
for s, n, f, fci, c, cci, d, dci, e in rows:
    print(f"| {s} | {n} | {f:.3f} [{fci[0]:.3f}, {fci[1]:.3f}] | {c:.3f} [{cci[0]:.3f}, {cci[1]:.3f}] "
          f"| {d:+.3f} [{dci[0]:+.3f}, {dci[1]:+.3f}] | {e:.3f} |")
if len(rows) > 1:
    d = [r[6] for r in rows]
    print(f"| mean | | {statistics.mean(r[2] for r in rows):.3f} | "
          f"{statistics.mean(r[4] for r in rows):.3f} | {statistics.mean(d):+.3f} | "
          f"{statistics.mean(r[8] for r in rows):.3f} |")
PY
