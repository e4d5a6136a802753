"""Synthetic accuracy: the VNect teacher and the MoVNect student trained from scratch on the
synthetic release for a fixed CPU-time budget each, scored on held-out synthetic subjects.

    python bench/synthetic_accuracy.py [--minutes 10] [--threads 2] [--data-dir data/synth]
    python bench/synthetic_accuracy.py --tiny          # a minute-long smoke run (development)

Data: bench/synthetic_data.py's shared release (made on first use): train S1 S5 S6 S7 S8,
test S9 S11. Runs: configs/teacher_synthetic.toml and configs/student_synthetic.toml through
movnect.train.run.run_training. The budget is turned into steps: a short calibration run
measures seconds per step (data loading included), then the stages get 20 % / 80 % of the
steps that fit in 85 % of the budget (the rest pays for validation); a hard stop at 110 % of
the budget guards the schedule. Test figures: movnect.evaluate (MPJPE, PA-MPJPE, N-MPJPE,
3DPCK, AUC) of each run's FINAL checkpoint (last.pt) on S9, S11 every --test-step-th frame,
all cameras: validation during training runs on the test subjects too (for the logs), so
picking best.pt would select the model on the test set. Prints ONE JSON object. These are
SYNTHETIC-data numbers, not Human3.6M ones.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from movnect.data.h36m import PrepareOptions, open_h36m, prepare_h36m
from movnect.data.synthetic import SynthConfig, write_release
from movnect.evaluate import Protocol, evaluate
from movnect.models import build_model, count_parameters
from movnect.train.config import load_experiment
from movnect.train.run import run_training

ROOT = Path(__file__).resolve().parents[1]  # configs/ of this checkout

MODELS = {"teacher": ROOT / "configs" / "teacher_synthetic.toml",
          "student": ROOT / "configs" / "student_synthetic.toml"}
TINY = SynthConfig(subjects=("S1", "S9"), actions=("Walking", "Sitting"), subactions=1, frames=40,
                   cameras=("54138969",), image_size=400, seed=7)


def tiny_h5(work: Path) -> Path:
    """A tiny release for --tiny runs (S1 train, S9 test), made once under `work`."""
    h5 = work / "tiny.h5"
    if not h5.is_file():
        write_release(work / "tiny_release", TINY)
        prepare_h36m(work / "tiny_release", h5, PrepareOptions(crop_size=128, frame_step=2))
    return h5


def seconds_per_step(config: Path, base: list[str], run_dir: Path) -> float:
    """Median wall time of training steps 3..8 of the 3D stage (data loading included)."""
    stamps: list[float] = []
    over = base + ["stages.0.steps_per_epoch=1", "stages.1.epochs=1", "stages.1.steps_per_epoch=8",
                   "train.val_every=0", "train.ckpt_every=0"]
    run_training(config, over, out=run_dir, on_step=lambda r: stamps.append(time.perf_counter()),
                 overwrite=True)  # a benchmark re-run replaces its own runs
    gaps = sorted(b - a for a, b in zip(stamps[2:], stamps[3:]))
    return gaps[len(gaps) // 2]


def train_and_score(name: str, args: argparse.Namespace, h5: Path, work: Path, subjects: tuple[list[str], list[str]]) -> dict:
    config = MODELS[name]
    base = [f"data.h36m={h5}", f"data.train_subjects={subjects[0]}", f"data.val_subjects={subjects[1]}",
            f"train.workers={args.workers}"] + args.set
    per_step = seconds_per_step(config, base, work / f"{name}_calibration")
    budget = args.minutes * 60.0
    steps = max(int(0.85 * budget / per_step), 10)
    epochs = load_experiment(config, base).stages[1].epochs
    pre = max(steps // 5, 1)
    per_epoch = max((steps - pre) // epochs, 1)
    over = base + ["stages.0.epochs=1", f"stages.0.steps_per_epoch={pre}", f"stages.1.steps_per_epoch={per_epoch}"]
    t0 = time.perf_counter()
    summary = run_training(config, over, out=work / name, overwrite=True,
                           should_stop=lambda: time.perf_counter() - t0 > 1.1 * budget)
    train_s = time.perf_counter() - t0
    ckpt = work / name / "checkpoints" / "last.pt"  # no model selection on the test subjects
    t1 = time.perf_counter()
    res = evaluate(h5, Protocol(tuple(subjects[1]), args.test_step), checkpoint=ckpt, batch_size=32)
    exp = load_experiment(config, over)
    return {
        "model": exp.model.name, "params": count_parameters(build_model(exp.model)),
        "input_size": exp.codec.input_size, "batch_size": exp.stages[1].batch_size,
        "seconds_per_step": round(per_step, 4), "steps": summary["steps"],
        "steps_planned": {"pretrain2d": pre, "train3d": per_epoch * epochs}, "stopped_by_budget": summary["stopped"],
        "train_seconds": round(train_s, 1), "eval_seconds": round(time.perf_counter() - t1, 1),
        "checkpoint": ckpt.name, "validation_on_test_subjects_not_used_for_selection": summary["best"],
        "test_frames": res["frames"],
        **{k: round(v, 2) for k, v in res["overall"].items()},
        "action_mean_mpjpe": round(res["action_mean"]["mpjpe"], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="training budget per model")
    ap.add_argument("--models", default="teacher,student")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch intra-op threads")
    ap.add_argument("--workers", type=int, default=1, help="DataLoader workers")
    ap.add_argument("--data-dir", default=str(ROOT / "data" / "synth"), help="shared synthetic data (bench/synthetic_data.py)")
    ap.add_argument("--work", default=None, help="run folders (default: a temporary folder)")
    ap.add_argument("--test-step", type=int, default=8, help="score every n-th frame of S9, S11")
    ap.add_argument("--set", action="append", default=[], help="extra config override for both runs")
    ap.add_argument("--tiny", action="store_true", help="tiny release and budget (development only)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work or tempfile.mkdtemp(prefix="synthetic_accuracy_"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.tiny:
        h5, subjects = tiny_h5(work), (["S1"], ["S9"])
        args.minutes, args.test_step = min(args.minutes, 0.5), 2
        args.set = ["train.val_max_samples=16", "stages.1.epochs=1", "stages.0.batch_size=4",
                    "stages.1.batch_size=4"] + args.set
    else:
        from synthetic_data import ensure_synthetic_h5

        h5, subjects = ensure_synthetic_h5(args.data_dir), (["S1", "S5", "S6", "S7", "S8"], ["S9", "S11"])
    with open_h36m(h5) as f:
        rows = int(f.attrs["rows"])
    data_s = time.perf_counter() - t0
    load = os.getloadavg()
    results = {name: train_and_score(name, args, h5, work, subjects) for name in args.models.split(",")}
    out = {
        "bench": "synthetic_accuracy",
        "data": "SYNTHETIC release (movnect synth): not Human3.6M numbers",
        "h5": str(h5), "rows": rows, "train_subjects": subjects[0], "test_subjects": subjects[1],
        "test_protocol": f"every {args.test_step}th frame, all cameras; MPJPE root-aligned, PA-MPJPE similarity "
                         "Procrustes; mm; pck150 / auc in percent",
        "budget_minutes_per_model": args.minutes, "tiny": args.tiny, "overrides": args.set,
        "models": results,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                    "threads": args.threads, "workers": args.workers,
                    "load_average_at_start": [round(x, 2) for x in load]},
        "data_seconds": round(data_s, 1), "work": str(work),
    }
    if "teacher" in results and "student" in results:
        out["student_over_teacher"] = {k: round(results["student"][k] / results["teacher"][k], 3)
                                       for k in ("mpjpe", "pa_mpjpe", "params", "seconds_per_step")}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
