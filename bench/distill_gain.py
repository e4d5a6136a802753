"""Does distillation help? Same student, data and step budget: scratch vs mimicry vs DWPose vs OKDHP.

    python bench/distill_gain.py [--tiny] [--steps 1200] [--teacher-steps 3600] [--work bench_out/distill_gain]

On the shared synthetic release (bench/synthetic_data.py: train S1 S5 S6 S7, model selection
on S8, test S9 S11, held-out subjects), every run trains the same MoVNect student (width
--width, --input-size crops) for the same number of optimisation steps and batch size:
  scratch   ground-truth losses only (movnect.train.loop.Trainer)
  mimicry   MoVNect / FPD mimicry of the teacher (alpha 0.5)
  dwpose    DWPose stage 1 for 5/6 of the steps + stage 2 (head self-KD) for 1/6 (= 20 % of
            stage 1): both stages INSIDE the same total step budget
  okdhp     3-branch online distillation, no teacher (each step costs ~2x a student step on
            a 2-core CPU: the multi-branch network; the step budget is the same, its time is reported)
plus the teacher itself: VNect (ResNet-18 trunk), bigger and trained --teacher-steps steps
(3x the student's by default), as in practice a teacher gets more capacity and compute;
without augmentation by default (--teacher-augment), which the scratch grid shows is the
better setting on this synthetic release at these budgets.

Fair tuning: the scratch student gets a grid over learning rate x augmentation (on / off),
selected by validation MPJPE on S8; every distillation run then reuses the scratch-best
learning rate and augmentation (its own hyper-parameters at the papers' defaults), so the
baseline got strictly more tuning than any distilled student. The teacher runs live (no
cache) whenever augmentation is on. Test figures: movnect.evaluate on S9, S11 (every 8th
frame, all cameras) of the best-validation checkpoint of each run.
Prints ONE JSON object. Synthetic data: these are NOT Human3.6M numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import torch  # noqa: E402

from movnect.checkpoint import save_checkpoint  # noqa: E402
from movnect.codec import Codec, CodecConfig  # noqa: E402
from movnect.data.dataset import H36MDataset  # noqa: E402
from movnect.data.transforms import NO_AUGMENT, AugmentConfig  # noqa: E402
from movnect.evaluate import Protocol, evaluate  # noqa: E402
from movnect.models import ModelConfig, build_model, count_parameters  # noqa: E402
from movnect.train.config import (  # noqa: E402
    ExperimentConfig, OptimizerConfig, ScheduleConfig, StageConfig, TrainConfig,
)
from movnect.train.distributed import DistEnv  # noqa: E402
from movnect.train.loop import Trainer  # noqa: E402
from teacher_student.config import DistillConfig, DWPoseConfig, MimicryConfig, OKDHPConfig  # noqa: E402
from teacher_student.run import build_distill_trainer, write_student  # noqa: E402

TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7")
VAL_SUBJECTS = ("S8",)
TEST_SUBJECTS = ("S9", "S11")


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="bench_out/distill_gain", help="run folders and results")
    ap.add_argument("--data", default="data/synth", help="shared synthetic release folder")
    ap.add_argument("--tiny", action="store_true", help="a few steps of everything (development)")
    ap.add_argument("--steps", type=int, default=1200, help="student optimisation steps (every method)")
    ap.add_argument("--teacher-steps", type=int, default=3600)
    ap.add_argument("--epochs", type=int, default=6, help="epochs the steps are split into (validation, r(t))")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--input-size", type=int, default=128)
    ap.add_argument("--width", type=float, default=0.5, help="student width multiplier")
    ap.add_argument("--teacher", default="vnect", choices=("vnect", "movnect"), help="teacher architecture")
    ap.add_argument("--teacher-depth", type=int, default=18, choices=(18, 34, 50), help="vnect teacher trunk")
    ap.add_argument("--teacher-width", type=float, default=1.0, help="movnect teacher width")
    ap.add_argument("--teacher-augment", default="off", choices=("on", "off"),
                    help="off: on this synthetic release augmentation costs accuracy at these budgets")
    ap.add_argument("--teacher-lr", type=float, default=3e-3)
    ap.add_argument("--teacher-cycles", type=int, default=2,
                    help="cosine cycles of --teacher-steps each; cycle k starts from cycle k-1's final weights")
    ap.add_argument("--lrs", default="1e-3,3e-3,6e-3,1e-2", help="scratch learning-rate grid")
    ap.add_argument("--augment", default="on,off", help="scratch augmentation grid")
    ap.add_argument("--methods", default="mimicry,dwpose,okdhp")
    ap.add_argument("--okdhp-divergence", default="mse", choices=("mse", "kl"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1, help="DataLoader workers per run")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (every run, teacher included)")
    ap.add_argument("--amp", default="off", choices=("off", "bf16", "fp16"), help="mixed precision (CUDA only)")
    ap.add_argument("--data-procs", type=int, default=2, help="processes rendering the synthetic release if missing")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="all", choices=("all", "teacher", "scratch", "distill"),
                    help="run one phase and exit (runs are cached per setting, so phases can run as "
                         "parallel processes; a final plain call assembles the table from the caches)")
    args = ap.parse_args()
    if args.tiny:
        args.steps, args.teacher_steps, args.epochs = 12, 24, 2
        args.lrs, args.augment = args.lrs.split(",")[0], args.augment.split(",")[0]
    return args


class Bench:
    def __init__(self, args: argparse.Namespace, h5: Path) -> None:
        self.a, self.h5 = args, h5
        self.work = Path(args.work)
        self.codec = Codec(CodecConfig(input_size=args.input_size))
        self.student = ModelConfig(name="movnect", width=args.width)
        self.teacher_cfg = (ModelConfig(name="vnect", depth=args.teacher_depth) if args.teacher == "vnect"
                            else ModelConfig(name="movnect", width=args.teacher_width))
        self.env = DistEnv(0, 1, 0, torch.device(args.device))
        self.val = H36MDataset(h5, self.codec, VAL_SUBJECTS, frame_step=16)
        self.test_step = 8 if not args.tiny else 64

    def train_set(self, augment: bool) -> H36MDataset:
        aug = AugmentConfig() if augment else NO_AUGMENT
        # seed None: augmentation drawn from the global RNG that the loop seeds per (run seed, epoch, item)
        return H36MDataset(self.h5, self.codec, TRAIN_SUBJECTS, frame_step=2, augment=aug, seed=None)

    def stage(self, name: str, steps: int, epochs: int, lr: float) -> StageConfig:
        per_epoch = max(1, steps // epochs)
        return StageConfig(name=name, kind="3d", epochs=epochs, steps_per_epoch=per_epoch, batch_size=self.a.batch,
                           optimizer=OptimizerConfig(name="adamw", lr=lr, weight_decay=1e-4),
                           schedule=ScheduleConfig(name="cosine", warmup_steps=min(100, steps // 10), min_factor=0.01))

    def experiment(self, model: ModelConfig, stages: tuple[StageConfig, ...], init_from: str = "") -> ExperimentConfig:
        train = TrainConfig(seed=self.a.seed, device=self.a.device, amp=self.a.amp, grad_clip=1.0, workers=self.a.workers,
                            log_every=50, ckpt_every=0, val_every=1, val_max_samples=256, val_batch_size=32,
                            image_panels=0, init_from=init_from)
        return ExperimentConfig(model=model, codec=self.codec.config, train=train, stages=stages)

    def fit(self, trainer: Trainer, run: Path, augment: bool, n_stages: int) -> dict:
        t0 = time.perf_counter()
        summary = trainer.fit([self.train_set(augment)] * n_stages, self.val)
        seconds = time.perf_counter() - t0
        trainer.logger.close()
        best = run / "checkpoints" / ("best.pt" if (run / "checkpoints" / "best.pt").is_file() else "last.pt")
        return {"seconds": round(seconds, 1), "steps": summary["steps"], "checkpoint": str(best),
                "val_mpjpe": (summary["best"] or {}).get("value"), "val_history": [
                    round(h["val/mpjpe"], 1) for h in summary["history"] if "val/mpjpe" in h]}

    def test(self, checkpoint: str) -> dict:
        r = evaluate(self.h5, Protocol(TEST_SUBJECTS, self.test_step), checkpoint=checkpoint, batch_size=64,
                     device=self.a.device, workers=self.a.workers)
        return {"mpjpe": round(r["overall"]["mpjpe"], 2), "pa_mpjpe": round(r["overall"]["pa_mpjpe"], 2),
                "frames": r["frames"]}

    # ---- runs ---------------------------------------------------------------------------
    def teacher(self) -> dict:
        """The teacher: --teacher-cycles cosine cycles (warm restarts), each cached in its own run."""
        rec, seconds = None, 0.0
        for cycle in range(1, self.a.teacher_cycles + 1):
            rec = self.teacher_cycle(cycle)
            seconds += rec["seconds"]
        rec = {**rec, "seconds": round(seconds, 1), "cycles": self.a.teacher_cycles,
               "steps_total": self.a.teacher_cycles * self.a.teacher_steps}
        return rec

    def teacher_run(self, cycle: int) -> Path:
        a = self.a
        size = f"d{a.teacher_depth}" if a.teacher == "vnect" else f"w{a.teacher_width:g}"
        tag = "" if cycle == 1 else f"_c{cycle}"
        return self.work / f"teacher_{a.teacher}{size}_s{a.teacher_steps}_lr{a.teacher_lr:g}_aug{a.teacher_augment}{tag}"

    def teacher_cycle(self, cycle: int) -> dict:
        a = self.a
        run = self.teacher_run(cycle)
        done = run / "result.json"
        if done.is_file():  # the teacher is trained once and reused across invocations
            return json.loads(done.read_text())
        init = str(self.teacher_run(cycle - 1) / "checkpoints" / "last.pt") if cycle > 1 else ""
        exp = self.experiment(self.teacher_cfg, (self.stage("main", a.teacher_steps, a.epochs, a.teacher_lr),), init)
        torch.manual_seed(a.seed + cycle - 1)
        augment = a.teacher_augment == "on"
        rec = self.fit(Trainer(build_model(self.teacher_cfg), self.teacher_cfg, self.codec, exp, run, self.env),
                       run, augment, 1)
        rec.update(test=self.test(rec["checkpoint"]), lr=a.teacher_lr, augment=augment, cycle=cycle, init_from=init,
                   parameters=count_parameters(build_model(self.teacher_cfg)))
        done.write_text(json.dumps(rec))
        return rec

    def scratch(self, lr: float, augment: bool) -> dict:
        a = self.a
        run = self.work / f"scratch_w{a.width:g}_s{a.steps}_e{a.epochs}_b{a.batch}_lr{lr:g}_aug{int(augment)}_seed{a.seed}"
        done = run / "result.json"
        if done.is_file():  # same settings: reuse (e.g. when re-running only some methods)
            return {**json.loads(done.read_text()), "reused": True}
        exp = self.experiment(self.student, (self.stage("main", a.steps, a.epochs, lr),))
        torch.manual_seed(a.seed)
        rec = self.fit(Trainer(build_model(self.student), self.student, self.codec, exp, run, self.env), run, augment, 1)
        rec = {**rec, "lr": lr, "augment": augment, "test": self.test(rec["checkpoint"])}
        done.write_text(json.dumps(rec))
        return rec

    def distill(self, method: str, lr: float, augment: bool, teacher_ckpt: str) -> dict:
        a = self.a
        name = f"okdhp_{a.okdhp_divergence}" if method == "okdhp" else method
        teacher_tag = "" if method == "okdhp" else "_" + Path(teacher_ckpt).parent.parent.name
        run = self.work / f"{name}_w{a.width:g}_s{a.steps}_e{a.epochs}_b{a.batch}_lr{lr:g}_aug{int(augment)}_seed{a.seed}{teacher_tag}"
        done = run / "result.json"
        if done.is_file():
            return {**json.loads(done.read_text()), "reused": True}
        if method == "dwpose":
            s1 = round(a.steps * 5 / 6)
            e2 = max(1, round(a.epochs / 6))
            stages = (self.stage("distill", s1, a.epochs, lr), self.stage("head", a.steps - s1, e2, lr))
            cfg = DistillConfig(method="dwpose", teacher=teacher_ckpt, dwpose=DWPoseConfig(self_kd_stage="head"))
        elif method == "mimicry":
            stages = (self.stage("main", a.steps, a.epochs, lr),)
            cfg = DistillConfig(method="mimicry", teacher=teacher_ckpt, mimicry=MimicryConfig(alpha=0.5))
        elif method == "okdhp":
            stages = (self.stage("main", a.steps, a.epochs, lr),)
            cfg = DistillConfig(method="okdhp", okdhp=OKDHPConfig(divergence=a.okdhp_divergence))
        else:
            raise ValueError(f"unknown method {method!r}")
        exp = self.experiment(self.student, stages)
        trainer = build_distill_trainer(exp, cfg, run, self.env)
        rec = self.fit(trainer, run, augment, len(stages))
        rec["checkpoint"] = str(write_student(run, cfg))
        rec = {**rec, "lr": lr, "augment": augment, "stage_steps": [s.epochs * s.steps_per_epoch for s in stages],
               "test": self.test(rec["checkpoint"])}
        if method == "dwpose":  # stage 1 alone (its last checkpoint, 5/6 of the steps), for the record
            s1 = Path(rec["checkpoint"]).with_name("stage-distill.pt")
            rec["stage1"] = {"seconds": None, "steps": rec["stage_steps"][0], "checkpoint": str(s1),
                             "note": "end of DWPose stage 1, before stage 2", "test": self.test(str(s1))}
        done.write_text(json.dumps(rec))
        return rec


def machine() -> dict:
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return {"cpu_count": os.cpu_count(), "gpu": gpu, "torch": torch.__version__, "threads": torch.get_num_threads(),
            "python": platform.python_version(), "platform": platform.platform()}


def main() -> None:
    args = parse()
    torch.set_num_threads(args.threads)
    from synthetic_data import ensure_synthetic_h5

    t0 = time.perf_counter()
    bench = Bench(args, ensure_synthetic_h5(args.data, processes=args.data_procs))
    lrs = [float(x) for x in args.lrs.split(",")]
    augs = [x.strip() == "on" for x in args.augment.split(",")]
    if args.only == "scratch":
        for lr in lrs:
            for aug in augs:
                print(json.dumps({"scratch": bench.scratch(lr, aug)}))
        return
    methods = [m for m in args.methods.split(",") if m]
    # OKDHP has no teacher: a '--only distill --methods okdhp' process need not wait for (or train) one
    needs_teacher = args.only in ("all", "teacher") or any(m != "okdhp" for m in methods)
    teacher = bench.teacher() if needs_teacher else None
    teacher_ckpt = str(Path(teacher["checkpoint"]).with_name("teacher.pt")) if teacher else ""
    if teacher and not Path(teacher_ckpt).is_file():  # weights only: hashed by caches, read by trainers
        from movnect.checkpoint import load_model

        m, cfg, codec, _ = load_model(teacher["checkpoint"])
        save_checkpoint(teacher_ckpt, m, cfg, codec, {"kind": "bench-teacher"})
    if args.only == "teacher":
        print(json.dumps({"teacher": teacher}))
        return
    grid = [bench.scratch(lr, aug) for lr in lrs for aug in augs]
    best = min(grid, key=lambda r: r["val_mpjpe"] if r["val_mpjpe"] is not None else float("inf"))
    results = {"scratch": best}
    for method in methods:
        rec = bench.distill(method, best["lr"], best["augment"], teacher_ckpt)
        results[method] = rec
        if method == "dwpose":
            results["dwpose_stage1"] = rec["stage1"]
    if args.only == "distill":
        print(json.dumps({k: v for k, v in results.items() if k != "scratch"}))
        return
    base = results["scratch"]["test"]["mpjpe"]
    table = {k: {"mpjpe": v["test"]["mpjpe"], "pa_mpjpe": v["test"]["pa_mpjpe"],
                 "gain_vs_scratch_pct": round(100 * (base - v["test"]["mpjpe"]) / base, 1),
                 "train_seconds": v["seconds"]} for k, v in results.items()}
    table["teacher"] = {"mpjpe": teacher["test"]["mpjpe"], "pa_mpjpe": teacher["test"]["pa_mpjpe"],
                        "gain_vs_scratch_pct": round(100 * (base - teacher["test"]["mpjpe"]) / base, 1),
                        "train_seconds": teacher["seconds"]}
    out = {
        "benchmark": "distill_gain", "data": "synthetic release (NOT Human3.6M)", "tiny": args.tiny,
        "split": {"train": TRAIN_SUBJECTS, "val (selection)": VAL_SUBJECTS, "test": TEST_SUBJECTS,
                  "test_frame_step": bench.test_step},
        "budget": {"student_steps": args.steps, "batch": args.batch, "epochs": args.epochs,
                   "teacher_steps": args.teacher_steps, "input_size": args.input_size,
                   "student": f"movnect width {args.width} ({count_parameters(build_model(bench.student))} params)",
                   "teacher": f"{bench.teacher_cfg.name} ({teacher['parameters']} params), {args.teacher_steps} steps",
                   "dwpose": "stage 1 5/6 + stage 2 1/6 of the student steps"},
        "tuning": {"scratch_grid": [{k: r[k] for k in ("lr", "augment", "val_mpjpe")} for r in grid],
                   "chosen": {"lr": best["lr"], "augment": best["augment"]},
                   "rule": "scratch-best lr and augmentation reused by every distillation run"},
        "table_mm": table,
        "best_gain_pct": max(v["gain_vs_scratch_pct"] for k, v in table.items() if k not in ("scratch", "teacher")
                             ) if len(table) > 2 else None,
        "runs": {k: {kk: vv for kk, vv in v.items() if kk not in ("checkpoint", "stage1")} for k, v in results.items()},
        "teacher_run": {k: v for k, v in teacher.items() if k != "checkpoint"},
        "machine": machine(), "device": args.device, "amp": args.amp,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (bench.work / "result.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
