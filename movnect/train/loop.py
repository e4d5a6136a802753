"""The training loop: stages, optimiser/schedule, AMP, clipping, DDP, checkpoints, NaN guard.

`Trainer.fit(train_sets, val_set)` runs every stage of an ExperimentConfig (one training
Dataset per stage, each returning the sample dict of docs/architecture.md). Subclasses change
what is learned by overriding the hooks, and reuse everything else:

  train_module()        the nn.Module that DDP wraps and the optimiser trains (default: model)
  compute_loss(batch)   -> LossTerms(total, parts); default: supervised PoseLoss of the stage
  trainer_state() / load_trainer_state(d)   extra state saved in checkpoints
  on_stage_start(i)     called when stage i starts or resumes (attributes stage, stage_index,
                        epoch and step are kept up to date; stage_progress, set before each
                        step from its position, is the fraction of the stage's steps done
                        when the step starts: 0 on its first step, (total - 1) / total on the last)

A training dataset whose samples are already on the training device (e.g. the distillation
benchmark's decoded-once data, bench/device_data.py) sets `device_resident = True`; its batches
are then not pinned (pinning is for host memory). Use it with train.workers = 0.

Reproducibility: the model is initialised under the run seed before the Trainer is built
(see movnect.train.run); batches come from a ResumableSampler whose shuffle and per-sample
augmentation seeds depend only on (seed, epoch, index); checkpoints carry the optimiser,
scheduler, scaler and RNG states and the position of the next batch, so `resume` continues
exactly where the run stopped.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from movnect import atomic
from movnect.checkpoint import load_state, read_checkpoint
from movnect.codec import Codec
from movnect.models import ModelConfig, PoseOutput
from movnect.train import resume as ck
from movnect.train.config import ExperimentConfig, StageConfig, dump_toml, experiment_to_dict
from movnect.train.distributed import (
    DistEnv, ResumableSampler, SeededDataset, all_reduce_sum, average_buffers,
)
from movnect.train.logging import RunLogger, heatmap_panel, skeleton_figure
from movnect.train.losses import LossTerms, PoseLoss
from movnect.train.schedules import build_optimizer, build_scheduler
from movnect.train.validation import PanelData, validate, validation_loader


class NonFiniteLossError(FloatingPointError):
    """The loss (or the weights) became NaN or infinite; the run stops."""


class StepReport(NamedTuple):
    stage: str
    stage_index: int
    epoch: int           # 0-based, within the stage
    epochs: int
    batch: int           # batches done in this epoch
    batches: int         # batches per epoch
    step: int            # optimisation steps done in the run
    loss: float
    lr: float


class Trainer:
    """Supervised trainer of one pose model; see the module docstring for the hooks."""

    def __init__(self, model: nn.Module, model_config: ModelConfig, codec: Codec,
                 experiment: ExperimentConfig, run_dir: str | Path, env: DistEnv,
                 logger: RunLogger | None = None) -> None:
        self.model = model.to(env.device)
        self.model_config = model_config
        self.codec = codec
        self.exp = experiment
        self.cfg = experiment.train
        self.run_dir = Path(run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.env = env
        self.logger = logger or RunLogger(self.run_dir, enabled=env.is_main)
        self.history: list[dict[str, float]] = []
        self.metrics: dict[str, float] = {}
        self.best: dict[str, Any] | None = None
        # per stage name: that stage's best validation {stage, name, value, step}; best-<name>.pt
        self.stage_best: dict[str, dict[str, Any]] = {}
        self._stage_improved = False
        self.stage: StageConfig = experiment.stages[0]
        self.stage_index = 0
        self.epoch = 0
        self.step = 0
        self.stage_progress = 0.0
        self.loss_fn = PoseLoss(codec, self.stage.loss, self.stage.kind == "3d")
        amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.cfg.amp)
        self.amp_dtype = amp if env.device.type == "cuda" else None  # CPU: always fp32
        self._wrapped: nn.Module | None = None

    # ---- hooks ---------------------------------------------------------------------------
    def train_module(self) -> nn.Module:
        return self.model

    def forward(self, images: Tensor) -> PoseOutput:
        """The model through the DDP wrapper during training (gradients are synchronised)."""
        return (self._wrapped or self.model)(images)

    def compute_loss(self, batch: dict[str, Tensor]) -> LossTerms:
        return self.loss_fn(self.forward(batch["image"]), batch)

    def trainer_state(self) -> dict[str, Any]:
        return {}

    def load_trainer_state(self, state: dict[str, Any]) -> None:
        pass

    def on_stage_start(self, index: int) -> None:
        self.loss_fn = PoseLoss(self.codec, self.stage.loss, self.stage.kind == "3d")

    # ---- the run -------------------------------------------------------------------------
    def fit(self, train_sets: Sequence[Dataset], val_set: Dataset | None = None,
            resume: str | Path | None = None, on_step: Callable[[StepReport], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
        """Train every stage (train_sets[i] feeds stage i); returns a summary dict."""
        stages = self.exp.stages
        if len(train_sets) != len(stages):
            raise ValueError(f"fit: {len(stages)} stages but {len(train_sets)} training sets")
        ckpt = self._start(resume)
        pos = ck.position_of(ckpt) if ckpt else ck.Position()
        module = self.train_module().to(self.env.device)
        if self.env.distributed:
            ids = [self.env.device.index] if self.env.device.type == "cuda" else None
            self._wrapped = nn.parallel.DistributedDataParallel(module, device_ids=ids)
        val_loader = None
        if val_set is not None and self.cfg.val_every > 0:
            val_loader = validation_loader(val_set, self.cfg.val_max_samples, self.cfg.val_batch_size,
                                           self.cfg.workers, self.env)
        self.step = pos.step
        stopped = False
        for s in range(pos.stage, len(stages)):
            self.stage, self.stage_index = stages[s], s
            self.on_stage_start(s)
            loader, sampler, batches = self._train_loader(train_sets[s], s)
            total = self.stage.epochs * batches
            opt = build_optimizer(self.train_module().named_parameters(), self.stage.optimizer)
            sched = build_scheduler(opt, self.stage.schedule, total)
            scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
            if ckpt is not None and s == pos.stage:
                self._restore_stage(ckpt, opt, sched, scaler)
                ckpt = None
            if pos.stage != s:
                pos = ck.Position(s, 0, 0, self.step)
            for epoch in range(pos.epoch, self.stage.epochs):
                self.epoch = epoch
                sampler.set_epoch(epoch, skip_batches=pos.batch)
                data = iter(loader)
                self.model.train()
                acc: dict[str, Any] = {}  # summed loss terms (tensors) and "steps"
                t0, seen = time.perf_counter(), 0
                for b in range(pos.batch, batches):
                    batch = _to_device(next(data), self.env.device)
                    # the fraction of the stage done when this step starts, from its position,
                    # never carried over from the previous step: the first step of every stage
                    # reads 0 (not the previous stage's 1.0), a resumed run what the uninterrupted read
                    self.stage_progress = (epoch * batches + b) / total
                    terms = self._train_step(batch, opt, sched, scaler, (epoch, b))
                    self.step += 1
                    seen += len(batch["image"])
                    for k, v in terms.parts.items():
                        acc[k] = acc.get(k, 0.0) + v
                    acc["steps"] = acc.get("steps", 0) + 1
                    pos = ck.Position(s, epoch, b + 1, self.step)
                    if self.step % self.cfg.log_every == 0:
                        self._log_train(acc, opt, seen / (time.perf_counter() - t0))
                        acc, t0, seen = {}, time.perf_counter(), 0
                    if on_step is not None:
                        on_step(StepReport(self.stage.name, s, epoch, self.stage.epochs, b + 1, batches,
                                           self.step, float(terms.parts["total"]), opt.param_groups[0]["lr"]))
                    if b + 1 < batches:
                        stop = self._stop_requested(should_stop)
                        if stop or (self.cfg.ckpt_every and self.step % self.cfg.ckpt_every == 0):
                            average_buffers(self.train_module(), self.env)
                            self._save("last.pt", pos, opt, sched, scaler)
                        if stop:
                            stopped = True
                            break
                if stopped:
                    break
                last_epoch = epoch + 1 == self.stage.epochs
                pos = ck.Position(s + 1, 0, 0, self.step) if last_epoch else ck.Position(s, epoch + 1, 0, self.step)
                average_buffers(self.train_module(), self.env)
                # saved before validating, so an error in validation cannot lose the epoch
                self._save("last.pt", pos, opt, sched, scaler)
                improved = self._stage_improved = False
                if val_loader is not None and ((epoch + 1) % self.cfg.val_every == 0 or last_epoch):
                    improved = self._validate(val_loader)
                    self._save("last.pt", pos, opt, sched, scaler)  # again, with the new figures and best
                if improved:
                    self._copy("last.pt", "best.pt")
                if self._stage_improved:
                    self._copy("last.pt", f"best-{self.stage.name}.pt")
                if last_epoch:
                    self._copy("last.pt", f"stage-{self.stage.name}.pt")
                if self._stop_requested(should_stop):
                    stopped = True
                    break
            if stopped:
                break
            pos = ck.Position(s + 1, 0, 0, self.step)
        self.logger.flush()
        return {"run_dir": str(self.run_dir), "steps": self.step, "stopped": stopped,
                "checkpoint": str(self.ckpt_dir / "last.pt"), "metrics": self.metrics,
                "best": self.best, "stage_best": self.stage_best, "history": self.history}

    # ---- pieces --------------------------------------------------------------------------
    def _start(self, resume: str | Path | None) -> dict[str, Any] | None:
        """Load a resume checkpoint or initial weights; write the resolved config."""
        ckpt = None
        if resume is not None:
            ckpt = ck.read_training_checkpoint(resume, self.model_config)
            load_state(self.model, ckpt["model"], f"checkpoint {resume}")
            extra = ckpt["extra"]
            self.metrics, self.best = dict(extra.get("metrics") or {}), extra.get("best")
            self.stage_best = dict(extra.get("stage_best") or {})
            self.load_trainer_state(extra.get("trainer") or {})
        elif self.cfg.init_from:
            init = read_checkpoint(self.cfg.init_from)
            ck.check_model_config(init, self.model_config, f"train.init_from {self.cfg.init_from}")
            load_state(self.model, init["model"], f"train.init_from {self.cfg.init_from}")
        if self.env.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic.write_text(self.run_dir / "config.toml", dump_toml(experiment_to_dict(self.exp)))
        return ckpt

    def _restore_stage(self, ckpt: dict[str, Any], opt: torch.optim.Optimizer,
                       sched: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler | None) -> None:
        extra = ckpt["extra"]
        if extra.get("optimizer_stage") == ck.position_of(ckpt).stage:
            opt.load_state_dict(extra["optimizer"])
            sched.load_state_dict(extra["scheduler"])
            if scaler is not None and extra.get("scaler"):
                scaler.load_state_dict(extra["scaler"])
        rng = extra["rng"]
        ck.restore_rng(rng[self.env.rank] if len(rng) == self.env.world_size else rng[0])

    def _train_loader(self, dataset: Dataset, s: int) -> tuple[DataLoader, ResumableSampler, int]:
        bs = self.stage.batch_size
        sampler = ResumableSampler(dataset, bs, self.env.world_size, self.env.rank,
                                   seed=self.cfg.seed + 7919 * s)
        batches = sampler.num_samples // bs
        if self.stage.steps_per_epoch:
            batches = min(batches, self.stage.steps_per_epoch)
        if batches == 0:
            raise ValueError(
                f"stage {self.stage.name!r}: {len(dataset)} samples give no full batch of "  # type: ignore[arg-type]
                f"{bs} per process ({self.env.world_size} process(es))"
            )
        loader = DataLoader(SeededDataset(dataset), batch_size=bs, sampler=sampler, drop_last=True,
                            num_workers=self.cfg.workers, persistent_workers=self.cfg.workers > 0,
                            # a dataset already on the GPU (device_resident True) cannot be pinned
                            pin_memory=self.env.device.type == "cuda" and not getattr(dataset, "device_resident", False),
                            generator=torch.Generator().manual_seed(self.cfg.seed))
        return loader, sampler, batches

    def _train_step(self, batch: dict[str, Tensor], opt: torch.optim.Optimizer,
                    sched: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler | None,
                    where: tuple[int, int]) -> LossTerms:
        autocast = (torch.autocast("cuda", dtype=self.amp_dtype) if self.amp_dtype is not None
                    else contextlib.nullcontext())
        with autocast:
            terms = self.compute_loss(batch)
        finite = torch.isfinite(terms.total.detach()).to(torch.float32).reshape(1)
        if float(all_reduce_sum(finite, self.env)) < self.env.world_size:
            self._diverged(terms, where, "loss")
        opt.zero_grad(set_to_none=True)
        params = [p for p in self.train_module().parameters() if p.requires_grad]
        if scaler is not None:
            scaler.scale(terms.total).backward()
            if self.cfg.grad_clip > 0:
                scaler.unscale_(opt)
                nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
            scaler.step(opt)  # skips steps with inf/NaN gradients and lowers the scale
            scaler.update()
        else:
            terms.total.backward()
            if self.cfg.grad_clip > 0:
                norm = nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
                if not torch.isfinite(norm):
                    self._diverged(terms, where, "gradient norm")
            opt.step()
        sched.step()
        return terms

    def _stop_requested(self, should_stop: Callable[[], bool] | None) -> bool:
        """True if any process's `should_stop` says so (all processes must stop together)."""
        if should_stop is None:
            return False
        flag = torch.tensor([1.0 if should_stop() else 0.0], device=self.env.device)
        return bool(all_reduce_sum(flag, self.env) > 0)

    def _diverged(self, terms: LossTerms, where: tuple[int, int], what: str) -> None:
        parts = " ".join(f"{k}={float(v.detach()):.4g}" for k, v in terms.parts.items())
        last = self.ckpt_dir / "last.pt"
        kept = f"last good checkpoint: {last}" if last.is_file() else "no checkpoint was written yet"
        raise NonFiniteLossError(
            f"{what} is not finite at stage {self.stage.name!r} epoch {where[0]} batch {where[1]} "
            f"(step {self.step + 1}; {parts}); run stopped, {kept}"
        )

    def _log_train(self, acc: dict[str, Any], opt: torch.optim.Optimizer, rate: float) -> None:
        n = acc.pop("steps")
        values = {f"train/{k}": float(v) / n for k, v in acc.items()}
        values["train/lr"] = opt.param_groups[0]["lr"]
        values["train/samples_per_s"] = rate * self.env.world_size
        self.logger.scalars(values, self.step)

    def _validate(self, loader: DataLoader) -> bool:
        """Validate, log figures and panels; True if the stage's key figure improved."""
        was_training = self.model.training
        self.model.eval()
        try:
            figures, panel = validate(self.model, self.codec, loader, self.env, self.cfg.image_panels)
        finally:
            self.model.train(was_training)
        self.metrics = figures
        self.history.append({"step": self.step, "stage": self.stage_index, **figures})
        self.logger.scalars(figures, self.step)
        if panel is not None and self.env.is_main:
            self._panels(panel)
        key = "val/mpjpe" if self.stage.kind == "3d" else "val/err2d_px"
        if key not in figures:
            return False
        record = {"stage": self.stage_index, "name": key, "value": figures[key], "step": self.step}
        mine = self.stage_best.get(self.stage.name)
        if mine is None or figures[key] < mine["value"]:
            self.stage_best[self.stage.name] = record
            self._stage_improved = True
        # best.pt: the best of every stage scored by the same figure. It restarts only when the
        # figure changes (2D pixel error -> 3D MPJPE), never merely because a stage starts:
        # a later stage that validates worse (DWPose's stage 2) must not replace a better one.
        if self.best is None or self.best["name"] != key or figures[key] < self.best["value"]:
            self.best = record
            return True
        return False

    def _panels(self, panel: PanelData) -> None:
        images = self.codec.denormalize(panel.images)
        for i in range(len(images)):
            self.logger.image(f"panel/{i}_input_pred_target", heatmap_panel(images[i], panel.pred_heat[i], panel.gt_heat[i]), self.step)
            fig = skeleton_figure(panel.pred3d[i], panel.gt3d[i], f"step {self.step}")
            self.logger.figure(f"skeleton/{i}", fig, self.step)

    def _copy(self, src: str, dst: str) -> None:
        if self.env.is_main:
            ck.copy_checkpoint(self.ckpt_dir / src, self.ckpt_dir / dst)

    def _save(self, name: str, pos: ck.Position, opt: torch.optim.Optimizer,
              sched: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler | None) -> None:
        """All processes gather RNG states; the main process writes `name` atomically."""
        if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
            raise NonFiniteLossError(f"weights became non-finite at step {self.step}; "
                                     f"not saving {name}; last good checkpoint: {self.ckpt_dir / 'last.pt'}")
        rng = [ck.capture_rng()]
        if self.env.distributed:
            rng = [None] * self.env.world_size  # type: ignore[list-item]
            dist.all_gather_object(rng, ck.capture_rng())
        if self.env.is_main:
            ck.save_training_checkpoint(
                self.ckpt_dir / name, self.model, self.model_config, self.codec, position=pos,
                optimizer=opt, scheduler=sched, scaler=scaler, rng=rng,
                run_config=experiment_to_dict(self.exp), metrics=self.metrics, best=self.best,
                stage_best=self.stage_best,
                optimizer_stage=self.stage_index, trainer_state=self.trainer_state(),
            )


def _to_device(batch: dict[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, Tensor) else v for k, v in batch.items()}

