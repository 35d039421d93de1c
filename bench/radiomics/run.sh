#!/usr/bin/env bash
# Radiomics benchmark: PyRadiomics vs `oncolens radiomics --preset pyradiomics` on the IBSI CT
# phantom and the STS_001 sarcoma CT (from ../shared/data, or $ONCOLENS_SHARED_DATA), 1 and 2
# rayon threads, plus cohort mode when the CLI has `--cohort`. Writes bench/radiomics/results.md.
#
# Usage: bench/radiomics/run.sh [runs] [extra bench_pyradiomics.py options...]
#   PYRAD_PYTHON=/tmp/venv-pyrad/bin/python  use that interpreter (must import `radiomics`)
#                                            instead of the repository's .venv
#   ONCOLENS_SHARED_DATA=DIR                 the shared data folder (default ../shared/data)
#   SKIP_BUILD=1                             use target/release/oncolens as it is
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${1:-5}"
shift || true

if [ -n "${PYRAD_PYTHON:-}" ]; then
  py="$PYRAD_PYTHON"
else
  "$root/bench/setup_venv.sh" >/dev/null
  py="$root/.venv/bin/python"
fi
if ! "$py" -c 'import radiomics' 2>/dev/null; then
  echo "error: $py cannot import PyRadiomics (module \`radiomics\`)." >&2
  echo "  install it: $py -m pip install pyradiomics-bhklab (plain \`pyradiomics\` 3.1.0 does not build on" >&2
  echo "  recent Python), or point PYRAD_PYTHON at an interpreter that has it." >&2
  exit 2
fi

bin="$root/target/release/oncolens"
if [ -z "${SKIP_BUILD:-}" ]; then
  (cd "$root" && cargo build --release -q -p oncolens-cli)
fi
if [ ! -x "$bin" ]; then
  echo "error: $bin not found; build it with: cargo build --release -p oncolens-cli" >&2
  exit 2
fi
if ! "$bin" radiomics --help >/dev/null 2>&1; then
  echo "error: \`oncolens radiomics\` is not available in $bin (the radiomics command is not wired" >&2
  echo "  into the CLI yet). To time PyRadiomics alone:" >&2
  echo "  $py $here/bench_pyradiomics.py --pyradiomics-only --runs $runs" >&2
  exit 2
fi

exec "$py" "$here/bench_pyradiomics.py" --oncolens "$bin" --runs "$runs" \
  --markdown "$here/results.md" "$@"
