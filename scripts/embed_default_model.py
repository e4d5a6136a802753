"""Embed a trained checkpoint as the package's default model (movnect/resources/default_student.*).

Writes two files from `--checkpoint` (normally runs/default_student/checkpoints/best.pt, trained
with configs/default_student.toml):
  default_student.pt      weights-only checkpoint (no optimizer/scheduler/RNG state), with the
                          training provenance (step, validation metrics, data) under extra
  default_student.tflite  float32 TFLite with the decode head (joints2d, joints3d, confidence),
                          plus its metadata sidecar default_student.tflite.json
`movnect demo` prefers the .tflite (fastest CPU runtime); `movnect predict/export --model default`
use the .pt.

    python scripts/embed_default_model.py --checkpoint runs/default_student/checkpoints/best.pt
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_NOTE = ("trained on rendered people only (movnect synth --renderer anny), no real image; "
                "not Human3.6M; see docs/default_model.md")


def main(argv: list[str] | None = None) -> int:
    from movnect.checkpoint import CheckpointError, load_model, save_checkpoint
    from movnect.estimator import DEFAULT_MODEL_FILE

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, default=ROOT / "runs/default_student/checkpoints/best.pt")
    p.add_argument("--out", type=Path, default=DEFAULT_MODEL_FILE, help="the .pt to write (the .tflite goes beside it)")
    p.add_argument("--no-tflite", action="store_true", help="write only the weights-only .pt")
    p.add_argument("--note", default=DEFAULT_NOTE,
                   help="what the model was trained on, stored under extra.note (say so when it is not renders)")
    args = p.parse_args(argv)
    try:
        model, cfg, codec, ckpt = load_model(args.checkpoint)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    extra = ckpt.get("extra", {})
    run = extra.get("run_config", {})
    provenance = {
        "kind": "weights-only",
        "source_checkpoint": str(args.checkpoint),
        "source_git": ckpt.get("git", "unknown"),
        "step": extra.get("position", {}).get("step"),
        "metrics": extra.get("metrics", {}),
        "data": run.get("data", {}),
        "note": args.note,
    }
    if "average_of" in extra:  # a weight-space average (scripts/average_checkpoints.py): name its parts
        provenance["average_of"] = extra["average_of"]
    save_checkpoint(args.out, model, cfg, codec, extra=provenance)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    if args.no_tflite:
        return 0
    from movnect.cli import main as cli_main

    tflite = args.out.with_suffix(".tflite")
    return cli_main(["export", "--checkpoint", str(args.out), "--format", "tflite", "--decode", "--out", str(tflite)])


if __name__ == "__main__":
    raise SystemExit(main())
