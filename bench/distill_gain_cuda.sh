#!/usr/bin/env bash
# The whole distillation sweep on one GPU machine (one H200, 16 cores), in one call:
#
#   bench/distill_gain_cuda.sh [WORK] [extra distill_gain.py flags...]
#
# Only the repository travels to the device machine (64 MiB), so the synthetic release is
# rendered THERE first (bench/synthetic_data.py, one process per subject), then
# bench/distill_gain.py --device cuda decodes the splits once, trains --parallel runs at once
# from GPU memory with bf16 autocast, writes WORK/runs.jsonl as runs finish and WORK/result.json
# at the end. DEADLINE_S (default 540) stops starting runs that would not finish in time: the
# budgets run in ascending order, so a cut leaves whole small budgets, never a half-paired one
# silently (missing seeds are listed). Environment: PARALLEL (12), BUDGETS (1,4,10), SEEDS (3),
# LRS (3e-3,6e-3), DWPOSE_WEIGHTS (ours,dwpose), DATA (data/synth), PYTHON (python3).
# Untested on a GPU when written (no device in that session): check WORK/result.json "not_run".
#
# The device image lacks cdflib (the release's CDF files are written and read with it), so it
# travels as a wheel: here, once, `bench/distill_gain_cuda.sh --prepare` (puts it in .whl), then
# run(command="RESULTS=$OUT bench/distill_gain_cuda.sh", carry=[".whl"], timeout_s=600).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = "--prepare" ]; then
  mkdir -p "$HERE/../.whl"
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    -d "$HERE/../.whl" cdflib==1.3.16
  ls "$HERE/../.whl"
  exit 0
fi
WORK=${1:-bench_out/distill_gain_cuda}
[ $# -gt 0 ] && shift
PY=${PYTHON:-python3}
REPO=$(cd "$HERE/.." && pwd)
export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}   # the package is not installed there: run from source
if ! "$PY" -c "import cdflib" 2>/dev/null; then
  ls "$REPO"/.whl/cdflib-*.whl >/dev/null 2>&1 || { echo "cdflib missing: run bench/distill_gain_cuda.sh --prepare here and carry .whl"; exit 2; }
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$REPO"/.whl/cdflib-*.whl
  export PYTHONPATH=/tmp/site:$PYTHONPATH
fi
DATA=${DATA:-data/synth}
mkdir -p "$WORK"
t0=$(date +%s)
"$PY" "$HERE/synthetic_data.py" --out "$DATA" --processes "${DATA_PROCS:-7}" >"$WORK/data.log" 2>&1
echo "data ready: $(( $(date +%s) - t0 )) s"
# RESULTS (e.g. $OUT): where result.json, runs.jsonl and the logs are copied, runs.jsonl as runs
# finish (the device tool brings back at most 8 files, so WORK itself stays outside $OUT)
copy() { [ -n "${RESULTS:-}" ] && mkdir -p "$RESULTS" && for f in result.json runs.jsonl stderr.log data.log; do
           [ -f "$WORK/$f" ] && cp "$WORK/$f" "$RESULTS/$f"; done; return 0; }
( while sleep 30; do copy; done ) &
copier=$!
set +e
"$PY" "$HERE/distill_gain.py" --device cuda --work "$WORK" --data "$DATA" \
  --parallel "${PARALLEL:-12}" --threads 1 --seeds "${SEEDS:-3}" --budgets "${BUDGETS:-1,4,10}" \
  --lrs "${LRS:-3e-3,6e-3}" --augment off --teacher-augment off --dwpose-weights "${DWPOSE_WEIGHTS:-ours,dwpose}" \
  --deadline-s "$(( ${DEADLINE_S:-540} - ($(date +%s) - t0) ))" "$@" >"$WORK/stdout.json" 2>"$WORK/stderr.log"
rc=$?
set -e
kill "$copier" 2>/dev/null || true
copy
echo "total: $(( $(date +%s) - t0 )) s, exit $rc; table: $WORK/result.json${RESULTS:+ (copied to $RESULTS)}"
exit $rc
