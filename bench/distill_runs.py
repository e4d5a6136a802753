"""One run of bench/distill_gain.py: the teacher, a scratch student, or a distilled student.

`Bench(args, h5, decoded).run(job)` trains (or reuses, when WORK/<run>/result.json exists) the
run that `job` describes and returns its record: steps, seconds, best S8 validation MPJPE and
its history, and the test figures on S9 S11 of the checkpoint chosen on S8 (best.pt; for
distilled runs teacher_student.run's student.pt, which for DWPose is the better stage on S8).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from distill_gain import TEST_SUBJECTS, TRAIN_SUBJECTS, VAL_SUBJECTS, budget_steps, job_name
from movnect.checkpoint import load_model, save_checkpoint
from movnect.codec import Codec, CodecConfig
from movnect.data.dataset import H36MDataset
from movnect.data.transforms import NO_AUGMENT, AugmentConfig
from movnect.evaluate import Protocol, evaluate
from movnect.models import ModelConfig, build_model, count_parameters
from movnect.train.config import ExperimentConfig, OptimizerConfig, ScheduleConfig, StageConfig, TrainConfig
from movnect.train.distributed import DistEnv
from movnect.train.loop import Trainer
from teacher_student.cache import CachedTeacherDataset, TeacherCache, build_cache
from teacher_student.config import DistillConfig, DWPoseConfig, MimicryConfig, OKDHPConfig
from teacher_student.run import build_distill_trainer, write_dwpose_students, write_student
from teacher_student.trainers import load_teacher

FEATURE_ALPHA = 7e-5  # DWPose's FeaLoss alpha_fea (sum over C, H, W / N)


class Bench:
    def __init__(self, args: argparse.Namespace, h5: Path, decoded: dict | None = None) -> None:
        self.a, self.h5, self.decoded = args, h5, decoded or {}
        self.work = Path(args.work)
        self.codec = Codec(CodecConfig(input_size=args.input_size))
        self.student = ModelConfig(name="movnect", width=args.width)
        self.teacher_cfg = (ModelConfig(name="vnect", depth=args.teacher_depth) if args.teacher == "vnect"
                            else ModelConfig(name="movnect", width=args.teacher_width))
        self.env = DistEnv(0, 1, 0, torch.device(args.device))
        self._train = None
        if self.decoded:
            from device_data import DecodedDataset

            self._train = DecodedDataset(self.decoded["train"], args.device)  # on the GPU, once per process
            self.val = DecodedDataset(self.decoded["val"], "cpu")  # validation decodes on the CPU
        else:
            self.val = H36MDataset(h5, self.codec, VAL_SUBJECTS, frame_step=args.val_frame_step)

    def train_set(self, augment: bool):  # noqa: ANN201
        if self._train is not None:
            if augment:
                raise ValueError("the decoded (cuda) data are un-augmented")
            return self._train
        aug = AugmentConfig() if augment else NO_AUGMENT
        # seed None: augmentation drawn from the global RNG that the loop seeds per (run seed, epoch, item)
        return H36MDataset(self.h5, self.codec, TRAIN_SUBJECTS, frame_step=self.a.train_frame_step, augment=aug, seed=None)

    def stage(self, name: str, steps: int, epochs: int, lr: float) -> StageConfig:
        per_epoch = max(1, steps // epochs)
        return StageConfig(name=name, kind="3d", epochs=epochs, steps_per_epoch=per_epoch, batch_size=self.a.batch,
                           optimizer=OptimizerConfig(name="adamw", lr=lr, weight_decay=1e-4),
                           schedule=ScheduleConfig(name="cosine", warmup_steps=min(100, steps // 10), min_factor=0.01))

    def experiment(self, model: ModelConfig, stages: tuple[StageConfig, ...], seed: int,
                   init_from: str = "") -> ExperimentConfig:
        a = self.a
        train = TrainConfig(seed=seed, device=a.device, amp=a.amp, grad_clip=1.0, workers=a.workers, log_every=50,
                            ckpt_every=0, val_every=1, val_max_samples=a.val_samples, val_batch_size=32,
                            image_panels=0, init_from=init_from)
        return ExperimentConfig(model=model, codec=self.codec.config, train=train, stages=stages)

    def fit(self, trainer: Trainer, run: Path, augment: bool, n_stages: int, cache: str = "",
            need_feature: bool = False) -> tuple[dict, dict]:
        """Train every stage on the training split; `cache`: a teacher cache (build_teacher_cache)
        whose outputs replace the teacher's forward pass (un-augmented data only)."""
        t0 = time.perf_counter()
        data = self.train_set(augment)
        if cache:
            tc = TeacherCache(cache)
            tc.check_matches(trainer.teacher.path, self.codec, need_feature=need_feature, data_file=self.h5)
            data = CachedTeacherDataset(data, tc)
        summary = trainer.fit([data] * n_stages, self.val)
        seconds = time.perf_counter() - t0
        trainer.logger.close()
        best = run / "checkpoints" / ("best.pt" if (run / "checkpoints" / "best.pt").is_file() else "last.pt")
        return {"seconds": round(seconds, 1), "steps": summary["steps"], "checkpoint": str(best),
                "val_mpjpe": (summary["best"] or {}).get("value"),
                "val_history": [round(h["val/mpjpe"], 1) for h in summary["history"] if "val/mpjpe" in h]}, summary

    def test(self, checkpoint: str) -> dict:
        r = evaluate(self.h5, Protocol(TEST_SUBJECTS, self.a.test_frame_step), checkpoint=checkpoint, batch_size=64,
                     device=self.a.device, workers=0)
        return {"mpjpe": round(r["overall"]["mpjpe"], 2), "pa_mpjpe": round(r["overall"]["pa_mpjpe"], 2),
                "frames": r["frames"]}

    def run(self, job: dict) -> dict:
        name = job_name(self.a, job)
        run = self.work / name
        done = run / "result.json"
        if done.is_file():  # same settings: reuse
            return {**json.loads(done.read_text()), "reused": True}
        rec = {"teacher": self.teacher, "scratch": self.scratch, "distill": self.distill}[job["kind"]](job, run)
        rec = {"name": name, **{k: v for k, v in job.items() if k not in ("teacher", "cache")}, **rec}
        run.mkdir(parents=True, exist_ok=True)
        done.write_text(json.dumps(rec))
        return rec

    def build_teacher_cache(self, teacher: str, path: Path, include_feature: bool) -> str:
        """The teacher's outputs on every un-augmented training row, once (CPU sweeps: a mimicry or
        DWPose step then costs about a scratch step). Reused while it matches teacher and data."""
        if path.is_file():
            try:
                tc = TeacherCache(path)
                tc.check_matches(teacher, self.codec, need_feature=include_feature, data_file=self.h5)
                return str(path)
            except Exception:  # noqa: BLE001 - stale or partial: rebuilt below
                path.unlink()
        t = load_teacher(teacher, self.student, self.codec).to(self.env.device)
        from movnect.config import to_dict

        build_cache(path, t.model, teacher, to_dict(t.config), self.codec, self.train_set(False), data_file=self.h5,
                    include_feature=include_feature, batch_size=64, device=self.env.device)
        return str(path)

    # ---- the three kinds of run ----------------------------------------------------------------
    def teacher(self, job: dict, run: Path) -> dict:
        """--teacher-cycles cosine cycles, each warm-started from the previous one's last weights."""
        a, seconds, init, cycles = self.a, 0.0, "", []
        for cycle in range(1, a.teacher_cycles + 1):
            exp = self.experiment(self.teacher_cfg, (self.stage("main", a.teacher_steps, a.epochs, a.teacher_lr),),
                                  seed=cycle - 1, init_from=init)
            torch.manual_seed(cycle - 1)
            sub = run / f"cycle{cycle}"
            rec, _ = self.fit(Trainer(build_model(self.teacher_cfg), self.teacher_cfg, self.codec, exp, sub, self.env),
                              sub, a.teacher_augment == "on", 1)
            seconds += rec["seconds"]
            cycles.append({"val_mpjpe": rec["val_mpjpe"], "seconds": rec["seconds"]})
            init = str(sub / "checkpoints" / "last.pt")
        model, cfg, codec, _ = load_model(rec["checkpoint"])
        ckpt = run / "teacher.pt"  # weights only: hashed by caches, read by the trainers
        save_checkpoint(ckpt, model, cfg, codec, {"kind": "bench-teacher"})
        return {**rec, "seconds": round(seconds, 1), "steps": a.teacher_steps * a.teacher_cycles, "cycles": cycles,
                "teacher_checkpoint": str(ckpt), "test": self.test(str(ckpt)),
                "parameters": count_parameters(build_model(self.teacher_cfg))}

    def scratch(self, job: dict, run: Path) -> dict:
        steps = budget_steps(self.a, job["budget"])
        exp = self.experiment(self.student, (self.stage("main", steps, self.a.epochs, job["lr"]),), job["seed"])
        torch.manual_seed(job["seed"])
        rec, _ = self.fit(Trainer(build_model(self.student), self.student, self.codec, exp, run, self.env), run,
                          job["augment"], 1)
        return {**rec, "test": self.test(rec["checkpoint"])}

    def dwpose_weights(self, variant: str) -> DWPoseConfig:
        """ours: the [distill.dwpose] defaults; dwpose: DWPose's effective weights in our
        normalisation (docs/distillation.md): feature 7e-5 x C x H x W of the teacher's feature
        at this crop size, logit 0.1 (location maps, our addition, 1)."""
        if variant == "ours":
            return DWPoseConfig(self_kd_stage="head")
        if variant == "dwpose":
            with torch.no_grad():
                t = build_model(self.teacher_cfg).eval()
                size = self.a.input_size
                c, h, w = t(torch.zeros(1, 3, size, size)).feature.shape[1:]
            return DWPoseConfig(feature_weight=FEATURE_ALPHA * c * h * w, logit_weight=0.1, self_kd_stage="head")
        raise ValueError(f"unknown DWPose weight set {variant!r}; choose ours or dwpose")

    def distill(self, job: dict, run: Path) -> dict:
        a, m, lr = self.a, job["method"], job["lr"]
        steps = budget_steps(a, job["budget"])
        if m == "dwpose":
            s1 = round(steps * 5 / 6)
            e2 = max(1, round(a.epochs / 6))
            stages = (self.stage("distill", s1, a.epochs, lr), self.stage("head", steps - s1, e2, lr))
            cfg = DistillConfig(method="dwpose", teacher=job["teacher"], dwpose=self.dwpose_weights(job["variant"]))
        elif m == "mimicry":
            stages = (self.stage("main", steps, a.epochs, lr),)
            cfg = DistillConfig(method="mimicry", teacher=job["teacher"], mimicry=MimicryConfig(alpha=0.5))
        elif m == "okdhp":
            stages = (self.stage("main", steps, a.epochs, lr),)
            cfg = DistillConfig(method="okdhp", okdhp=OKDHPConfig(divergence=a.okdhp_divergence))
        else:
            raise ValueError(f"unknown method {m!r}")
        exp = self.experiment(self.student, stages, job["seed"])
        trainer = build_distill_trainer(exp, cfg, run, self.env)
        cache = job.get("cache", "") if m in ("mimicry", "dwpose") and not job["augment"] else ""
        rec, summary = self.fit(trainer, run, job["augment"], len(stages), cache=cache,
                                need_feature=m == "dwpose" and cfg.dwpose.feature_weight > 0)
        extra: dict = {"stage_steps": [s.epochs * s.steps_per_epoch for s in stages],
                       "teacher_outputs": "cache" if cache else ("live" if m != "okdhp" else "none")}
        if m == "dwpose":
            student, choice = write_dwpose_students(run, exp, cfg, summary["stage_best"])
            extra["dwpose_export"] = choice["chosen"]
            extra["dwpose_weights"] = {"feature": cfg.dwpose.feature_weight, "logit": cfg.dwpose.logit_weight,
                                       "location": cfg.dwpose.location_weight}
            # for the record only (never used to choose): the test figures of both candidates
            extra["stage_tests"] = {k: {"val_mpjpe": choice[k]["val_value"], "test": self.test(choice[k]["file"])}
                                    for k in ("stage1", "stage2")}
            rec["val_mpjpe"] = choice[choice["chosen"]]["val_value"]
        else:
            student = write_student(run, cfg)
        rec["checkpoint"] = str(student)
        return {**rec, **extra, "test": self.test(str(student))}

