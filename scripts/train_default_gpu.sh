#!/usr/bin/env bash
# The default model's training run on one GPU machine (one H200, 16 cores), in ONE call of the
# device tool: render Anny people there, measure the training throughput, train for a fixed wall
# time, and leave the checkpoint and its logs in OUT as they are written.
#
#   scripts/train_default_gpu.sh --prepare      # here, once: wheels and GL loaders that must travel
#   scripts/train_default_gpu.sh OUT             # there: run(command="scripts/train_default_gpu.sh $OUT",
#                                               #        carry=[".whl", ".gl"], timeout_s=600)
#
# Only the repository (64 MiB) travels and the device has no network, so the renders are made
# THERE (movnect synth, one process per core, OpenGL on the GPU through EGL) and the packages its
# image lacks travel as wheels for its Python 3.12 (.whl: anny, roma, trimesh, moderngl,
# glcontext, about 49 MB; anny runs without warp-lang, on plain LBS skinning) with the GL loader
# debs (.gl). Then the throughput is measured on a short probe run and the main run gets the
# steps that fit TRAIN_S (its cosine schedule ends on time); it runs under a timeout that stops it
# with a saved last.pt if the estimate was off. Back here: bench/real_footage.py --models
# OUT/best.pt,default,... and, if it pays, scripts/embed_default_model.py (docs/default_model.md).
#
# Environment: ROWS (40000 rendered rows), SEED (30), MARGIN (0.5), WORKERS (nproc), TRAIN_S (240
# s of main training), CONFIG (configs/default_student_gpu.toml), EXTRA (more --set overrides),
# PROBE_STEPS (200), DEVICE (auto), SETUP (1), PYTHON (python3). Written in a session without a GPU: tested end to end on the CPU with tiny
# sizes (SETUP=0 ROWS=400 TRAIN_S=20 PROBE_STEPS=20 DEVICE=cpu EXTRA="--set stages.0.batch_size=4"), never on the GPU machine itself.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"

if [ "${1:-}" = "--prepare" ]; then
  mkdir -p .whl .gl
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
  grep -qx '/.gl/' .git/info/exclude 2>/dev/null || echo '/.gl/' >> .git/info/exclude
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 -d .whl anny==0.6.2 roma==1.8.0 trimesh==5.2.0 moderngl==5.13.0 glcontext==3.1.0
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial
  # shellcheck disable=SC2086
  apt-get $o update -qq && (cd .gl && apt-get $o download libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
  du -sh .whl .gl
  exit 0
fi

OUT=${1:?usage: scripts/train_default_gpu.sh OUT | --prepare}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
ROWS=${ROWS:-40000}
SEED=${SEED:-30}
MARGIN=${MARGIN:-0.5}
WORKERS=${WORKERS:-$(nproc)}
TRAIN_S=${TRAIN_S:-240}
CONFIG=${CONFIG:-configs/default_student_gpu.toml}
DEVICE=${DEVICE:-auto}
H5=data/anny/anny_gpu_s${SEED}.h5
RUN=runs/default_gpu_s${SEED}
export PYTHONUNBUFFERED=1
t0=$(date +%s)
say() { echo "[$(( $(date +%s) - t0 )) s] $*" | tee -a "$OUT/steps.log"; }

# SETUP=0 skips the unpacking and installs (a machine that has the packages, e.g. this CPU one)
if [ "${SETUP:-1}" = 1 ] && [ -d .gl ] && ls .gl/*.deb >/dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  nv=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  [ -f "$nv" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$nv
fi
if [ "${SETUP:-1}" = 1 ] && [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$HERE${PYTHONPATH:+:$PYTHONPATH}
else
  export PYTHONPATH=$HERE${PYTHONPATH:+:$PYTHONPATH}
fi
export ANNY_CACHE_DIR=${ANNY_CACHE_DIR:-/tmp/anny_cache}
{ nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  "$PY" -c "import sys, torch; print(sys.version.split()[0], torch.__version__, torch.cuda.is_available())"; } \
  > "$OUT/env.txt" 2>&1
say "environment: $(tr '\n' ' ' < "$OUT/env.txt")"

# 1. renders (one process per core; resumable shards if the call is repeated on a warm machine)
[ -f "$H5" ] || "$PY" -m movnect synth --renderer anny --rows "$ROWS" --workers "$WORKERS" --seed "$SEED" \
  --crop-margin "$MARGIN" --out "$H5" --no-progress > "$OUT/synth.log" 2>&1
say "rendered $ROWS rows into $H5 ($(du -h "$H5" | cut -f1))"

# 2. throughput probe: a short run of the same config, its logged samples per second
overrides=(--set "data.h36m=$H5" --set "train.device=$DEVICE")
# shellcheck disable=SC2206
[ -n "${EXTRA:-}" ] && overrides+=($EXTRA)
"$PY" -m movnect train --config "$CONFIG" "${overrides[@]}" --set stages.0.epochs=1 \
  --set "stages.0.steps_per_epoch=${PROBE_STEPS:-200}" --set train.val_max_samples=64 --set train.log_every=10 --out /tmp/probe --overwrite --no-progress \
  > "$OUT/probe.log" 2>&1
read -r STEPS EPOCHS <<<"$("$PY" - "$CONFIG" "$TRAIN_S" "${overrides[@]}" <<'EOF'
import json, sys
from movnect.train.config import load_experiment
cfg = load_experiment(sys.argv[1], [a for a in sys.argv[3:] if a != "--set"])
rates = [r["train/samples_per_s"] for r in map(json.loads, open("/tmp/probe/metrics.jsonl")) if "train/samples_per_s" in r]
if not rates:
    sys.exit("the probe run logged no throughput (see probe.log)")
rate = sorted(rates)[len(rates) // 2]          # median of the probe's windows
batch = cfg.stages[0].batch_size
epochs = cfg.stages[0].epochs
steps = max(epochs, int(float(sys.argv[2]) * rate / batch) // epochs)
print(steps, epochs)
EOF
)"
say "probe: $(grep -c samples_per_s /tmp/probe/metrics.jsonl) windows; main run: $EPOCHS epochs of $STEPS steps"

# 3. the main run, checkpoints copied to OUT as they appear
( while sleep 20; do
    for f in best.pt last.pt; do [ -f "$RUN/checkpoints/$f" ] && cp "$RUN/checkpoints/$f" "$OUT/$f.tmp" && mv "$OUT/$f.tmp" "$OUT/$f"; done
    [ -f "$RUN/metrics.jsonl" ] && cp "$RUN/metrics.jsonl" "$OUT/metrics.jsonl"
  done ) &
copier=$!
set +e
timeout --foreground --signal=TERM --kill-after=30 $(( TRAIN_S * 3 / 2 + 60 )) "$PY" -m movnect train --config "$CONFIG" \
  "${overrides[@]}" --set "stages.0.steps_per_epoch=$STEPS" --out "$RUN" --overwrite --no-progress > "$OUT/train.log" 2>&1
rc=$?
set -e
kill "$copier" 2>/dev/null || true
for f in best.pt last.pt; do [ -f "$RUN/checkpoints/$f" ] && cp "$RUN/checkpoints/$f" "$OUT/$f"; done
cp "$RUN/metrics.jsonl" "$OUT/metrics.jsonl" 2>/dev/null || true
say "training exit $rc; in $OUT: $(ls "$OUT" | tr '\n' ' ')"
