#!/usr/bin/env bash
# bench/distill_gain.py on a many-core machine with a GPU, its runs as parallel processes.
#
#   bench/distill_gain_parallel.sh WORK [extra distill_gain.py flags...]
#
# Phase 1: the teacher and every scratch grid point (learning rate x augmentation) at once;
# phase 2: mimicry, DWPose and OKDHP at once (they need the teacher and the scratch-best
# setting); then a plain call assembles the table from the per-run caches (result.json in
# each run folder) and writes WORK/result.json. Every run's log is WORK/logs/<name>.log.
# A phase that was already finished (cached result.json) is reused, so the script can be
# re-run after an interruption. Environment: PHASE1_WORKERS / PHASE2_WORKERS (DataLoader
# workers per process), DEVICE (default cuda), LRS and AUGS (the scratch grid), DATA_PROCS
# (processes rendering the synthetic release when it is missing).
set -euo pipefail
WORK=${1:?usage: distill_gain_parallel.sh WORK [flags...]}
shift
DEVICE=${DEVICE:-cuda}
LRS=${LRS:-1e-3,3e-3,6e-3,1e-2}
AUGS=${AUGS:-on,off}
P1=${PHASE1_WORKERS:-2}
P2=${PHASE2_WORKERS:-4}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
mkdir -p "$WORK/logs"
common=(--work "$WORK" --device "$DEVICE" --threads 1 --lrs "$LRS" --augment "$AUGS" "$@")

t0=$(date +%s)
# the shared synthetic release, rendered once before the runs read it
"$PY" "$HERE/synthetic_data.py" --processes "${DATA_PROCS:-7}"
echo "data ready: $(( $(date +%s) - t0 )) s"
pids=()
"$PY" "$HERE/distill_gain.py" "${common[@]}" --only teacher --workers $((P1 * 3)) >"$WORK/logs/teacher.log" 2>&1 &
pids+=($!)
for lr in ${LRS//,/ }; do
  for aug in ${AUGS//,/ }; do
    "$PY" "$HERE/distill_gain.py" "${common[@]}" --only scratch --lrs "$lr" --augment "$aug" --workers "$P1" \
      >"$WORK/logs/scratch_lr${lr}_aug${aug}.log" 2>&1 &
    pids+=($!)
  done
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
echo "phase 1 (teacher + scratch grid): $(( $(date +%s) - t0 )) s, failed=$fail"
[ "$fail" = 0 ] || { tail -n 5 "$WORK"/logs/*.log; exit 1; }

t1=$(date +%s)
pids=()
for m in mimicry dwpose okdhp; do
  "$PY" "$HERE/distill_gain.py" "${common[@]}" --only distill --methods "$m" --workers "$P2" \
    >"$WORK/logs/$m.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail=1; done
echo "phase 2 (mimicry, dwpose, okdhp): $(( $(date +%s) - t1 )) s, failed=$fail"
[ "$fail" = 0 ] || { tail -n 5 "$WORK"/logs/*.log; exit 1; }

"$PY" "$HERE/distill_gain.py" "${common[@]}" --workers "$P2" >"$WORK/logs/table.log" 2>&1
echo "total: $(( $(date +%s) - t0 )) s; table: $WORK/result.json"
