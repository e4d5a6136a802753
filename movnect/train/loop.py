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

Host syncs: a step queues its work on the device and never waits for it. Loss terms and the
NaN guard's flags stay on the device (movnect.train.window) until a sync point: a log interval
(train.log_every) or a checkpoint write. There the pending flags are read in one transfer, and a
non-finite loss or gradient norm raises NonFiniteLossError naming the first failing step, before
anything is logged or saved from it. In a distributed run the stop request is exchanged at those
points only.

Reproducibility: the model is initialised under the run seed before the Trainer is built
(see movnect.train.run); batches come from a ResumableSampler whose shuffle and per-sample
augmentation seeds depend only on (seed, epoch, index); checkpoints carry the optimiser,
scheduler, scaler and RNG states and the position of the next batch, so `resume` continues
exactly where the run stopped.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from movnect import atomic
from movnect.checkpoint import load_state, read_checkpoint
from movnect.codec import Codec
from movnect.models import ModelConfig
from movnect.train import resume as ck
from movnect.train.config import ExperimentConfig, StageConfig, dump_toml, experiment_to_dict
from movnect.train.distributed import (
    DistEnv, ResumableSampler, SeededDataset, all_reduce_sum, average_buffers, wrap_ddp,
)
from movnect.train.logging import RunLogger, heatmap_panel, skeleton_figure
from movnect.train.losses import LossTerms, PoseLoss
from movnect.train.schedules import build_optimizer, build_scheduler
from movnect.train.validation import PanelData, validate, validation_loader
from movnect.train.window import StepRecord, StepWindow


class NonFiniteLossError(FloatingPointError):
    """The loss (or the weights) became NaN or infinite; the run stops."""


class StepReport(NamedTuple):
    """What `fit` hands `on_step` after every step. Reading `loss` copies the step's loss to
    the host (a device sync on a GPU); `synced` says the loop has just synchronised anyway."""

    stage: str
    stage_index: int
    epoch: int           # 0-based, within the stage
    epochs: int
    batch: int           # batches done in this epoch
    batches: int         # batches per epoch
    step: int            # optimisation steps done in the run
    total: Tensor        # the step's loss, detached, on the training device
    lr: float
    synced: bool         # this step ended a log interval

    @property
    def loss(self) -> float:
        return float(self.total)


@dataclass
class _Stage:
    """One stage's data and optimisation state while it trains."""

    loader: DataLoader
    sampler: ResumableSampler
    batches: int         # per epoch
    total: int           # steps in the stage
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler | None


@dataclass(frozen=True)
class _Hooks:
    """`fit`'s callers' view: the validation loader and the two callbacks."""

    val_loader: DataLoader | None
    on_step: Callable[[StepReport], None] | None
    should_stop: Callable[[], bool] | None


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
        self._wrapped: nn.Module | None = None  # train_module() for training: in DDP when distributed
        self._window = StepWindow()

    # ---- hooks ---------------------------------------------------------------------------
    def train_module(self) -> nn.Module:
        return self.model

    def forward(self, images: Tensor) -> Any:
        """The train module on a batch, through the DDP wrapper during a distributed run (so
        gradients are synchronised); the default train module returns the model's PoseOutput."""
        return (self._wrapped if self._wrapped is not None else self.train_module())(images)

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
        """Train every stage (train_sets[i] feeds stage i); returns a summary dict.

        Stops early, after saving last.pt, when `should_stop()` says so: in a single process it
        is asked after every step inside an epoch and at every epoch end; in a distributed run
        only where the processes synchronise anyway (log intervals, checkpoint writes, epoch
        ends), and the run stops if any process's answer is True."""
        stages = self.exp.stages
        if len(train_sets) != len(stages):
            raise ValueError(f"fit: {len(stages)} stages but {len(train_sets)} training sets")
        ckpt = self._start(resume)
        pos = ck.position_of(ckpt) if ckpt else ck.Position()
        hooks = _Hooks(self._val_loader(val_set), on_step, should_stop)
        self.step = pos.step
        stopped = False
        for s in range(pos.stage, len(stages)):
            resuming = ckpt is not None and s == pos.stage
            stage = self._begin_stage(s, train_sets[s], ckpt if resuming else None)
            start = pos if s == pos.stage else ck.Position(s, 0, 0, self.step)
            if self._run_stage(stage, start, hooks):
                stopped = True
                break
        self.logger.flush()
        return {"run_dir": str(self.run_dir), "steps": self.step, "stopped": stopped,
                "checkpoint": str(self.ckpt_dir / "last.pt"), "metrics": self.metrics,
                "best": self.best, "stage_best": self.stage_best, "history": self.history}

    def _begin_stage(self, s: int, dataset: Dataset, ckpt: dict[str, Any] | None) -> _Stage:
        """Enter stage s: the subclass's on_stage_start, the DDP wrapper of the train module it
        leaves, the stage's loader, optimiser, schedule and scaler (restored from `ckpt` when
        the run resumes inside this stage)."""
        self.stage, self.stage_index = self.exp.stages[s], s
        self.on_stage_start(s)
        # wrapped afresh at every stage: a stage may change the train module or freeze part of it
        self._wrapped = wrap_ddp(self.train_module(), self.env)
        loader, sampler, batches = self._train_loader(dataset, s)
        total = self.stage.epochs * batches
        opt = build_optimizer(self.train_module().named_parameters(), self.stage.optimizer)
        sched = build_scheduler(opt, self.stage.schedule, total)
        scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        if ckpt is not None:
            self._restore_stage(ckpt, opt, sched, scaler)
        return _Stage(loader, sampler, batches, total, opt, sched, scaler)

    def _run_stage(self, stage: _Stage, start: ck.Position, hooks: _Hooks) -> bool:
        """Train the stage's epochs from `start`; True if the run was asked to stop."""
        for epoch in range(start.epoch, self.stage.epochs):
            if self._run_epoch(stage, epoch, start.batch if epoch == start.epoch else 0, hooks):
                return True
            self._end_epoch(stage, epoch, hooks.val_loader)
            if self._stop_requested(hooks.should_stop, synced=True):
                return True
        return False

    def _run_epoch(self, stage: _Stage, epoch: int, first: int, hooks: _Hooks) -> bool:
        """Batches `first`.. of one epoch; True if asked to stop inside it (last.pt then holds
        the position of the next batch). The steps themselves never wait for the device: the
        loss and the NaN guard are read at log intervals and before checkpoint writes."""
        self.epoch = epoch
        stage.sampler.set_epoch(epoch, skip_batches=first)
        data = iter(stage.loader)
        self.model.train()
        self._window.start_log()
        for b in range(first, stage.batches):
            batch = _to_device(next(data), self.env.device)
            # the fraction of the stage done when this step starts, from its position,
            # never carried over from the previous step: the first step of every stage
            # reads 0 (not the previous stage's 1.0), a resumed run what the uninterrupted read
            self.stage_progress = (epoch * stage.batches + b) / stage.total
            terms, finite = self._train_step(batch, stage.opt, stage.sched, stage.scaler)
            self.step += 1
            self._window.add(StepRecord(self.stage.name, epoch, b, self.step, terms.parts), finite,
                             len(batch["image"]))
            logged = self.step % self.cfg.log_every == 0
            if logged:
                self._log_train(stage.opt)
            if hooks.on_step is not None:
                hooks.on_step(StepReport(self.stage.name, self.stage_index, epoch, self.stage.epochs, b + 1,
                                         stage.batches, self.step, terms.parts["total"],
                                         stage.opt.param_groups[0]["lr"], logged))
            # after the epoch's last batch, _end_epoch saves and asks should_stop
            if b + 1 < stage.batches and self._checkpoint_or_stop(stage, epoch, b, logged, hooks.should_stop):
                return True
        return False

    def _checkpoint_or_stop(self, stage: _Stage, epoch: int, b: int, logged: bool,
                            should_stop: Callable[[], bool] | None) -> bool:
        """Inside an epoch, after batch b: write last.pt every ckpt_every steps and when asked
        to stop; True if asked to stop."""
        save = bool(self.cfg.ckpt_every) and self.step % self.cfg.ckpt_every == 0
        stop = self._stop_requested(should_stop, synced=logged or save)
        if stop or save:
            average_buffers(self.train_module(), self.env)
            self._save("last.pt", ck.Position(self.stage_index, epoch, b + 1, self.step), stage)
        return stop

    def _end_epoch(self, stage: _Stage, epoch: int, val_loader: DataLoader | None) -> None:
        """Save last.pt, validate when due, and copy best.pt / best-<stage>.pt / stage-<stage>.pt."""
        s, last_epoch = self.stage_index, epoch + 1 == self.stage.epochs
        pos = ck.Position(s + 1, 0, 0, self.step) if last_epoch else ck.Position(s, epoch + 1, 0, self.step)
        average_buffers(self.train_module(), self.env)
        # saved before validating, so an error in validation cannot lose the epoch
        self._save("last.pt", pos, stage)
        improved = self._stage_improved = False
        if val_loader is not None and ((epoch + 1) % self.cfg.val_every == 0 or last_epoch):
            improved = self._validate(val_loader)
            self._save("last.pt", pos, stage)  # again, with the new figures and best
        if improved:
            self._copy("last.pt", "best.pt")
        if self._stage_improved:
            self._copy("last.pt", f"best-{self.stage.name}.pt")
        if last_epoch:
            self._copy("last.pt", f"stage-{self.stage.name}.pt")

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

    def _val_loader(self, val_set: Dataset | None) -> DataLoader | None:
        if val_set is None or self.cfg.val_every <= 0:
            return None
        return validation_loader(val_set, self.cfg.val_max_samples, self.cfg.val_batch_size, self.cfg.workers, self.env)

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
                    sched: torch.optim.lr_scheduler.LRScheduler,
                    scaler: torch.amp.GradScaler | None) -> tuple[LossTerms, Tensor]:
        """One optimisation step; returns its loss terms and (2,) bool [loss finite, gradient
        norm finite], both left on the device (the host never waits for them here).

        A non-finite loss is not stopped before its update: the steps up to the next sync point
        run on, and `_check_steps` there raises before anything is logged or saved from them.
        With fp16 the GradScaler skips updates whose gradients overflow (reading its own inf
        flag, the one per-step sync that remains, inside torch.amp)."""
        autocast = (torch.autocast("cuda", dtype=self.amp_dtype) if self.amp_dtype is not None
                    else contextlib.nullcontext())
        with autocast:
            terms = self.compute_loss(batch)
        loss_finite = torch.isfinite(terms.total.detach())
        norm_finite = torch.ones_like(loss_finite)
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
                norm_finite = torch.isfinite(nn.utils.clip_grad_norm_(params, self.cfg.grad_clip))
            opt.step()
        sched.step()
        return terms, torch.stack([loss_finite, norm_finite])

    def _stop_requested(self, should_stop: Callable[[], bool] | None, synced: bool) -> bool:
        """True if `should_stop` says so. In a distributed run all processes must stop
        together, which takes a collective: asked only where the step synchronises anyway
        (`synced`), and True there if any process's answer is."""
        if should_stop is None:
            return False
        if not self.env.distributed:
            return bool(should_stop())
        if not synced:
            return False
        flag = torch.tensor([1.0 if should_stop() else 0.0], device=self.env.device)
        return bool(all_reduce_sum(flag, self.env) > 0)

    def _check_steps(self) -> None:
        """The NaN guard of the steps since the last check (one sync): NonFiniteLossError, one
        line naming the first failing step's stage, epoch, batch and loss terms, if any loss or
        gradient norm was not finite."""
        bad = self._window.first_non_finite(self.env)
        if bad is None:
            return
        what, rec = bad
        parts = " ".join(f"{k}={float(v.detach()):.4g}" for k, v in rec.parts.items())
        last = self.ckpt_dir / "last.pt"
        kept = f"last good checkpoint: {last}" if last.is_file() else "no checkpoint was written yet"
        raise NonFiniteLossError(
            f"{what} is not finite at stage {rec.stage!r} epoch {rec.epoch} batch {rec.batch} "
            f"(step {rec.step}; {parts}; noticed at step {self.step}); run stopped, {kept}"
        )

    def _log_train(self, opt: torch.optim.Optimizer) -> None:
        self._check_steps()  # a NaN is an error, never a logged value
        means, rate = self._window.take_means()
        values = {f"train/{k}": v for k, v in means.items()}
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

    def _save(self, name: str, pos: ck.Position, stage: _Stage) -> None:
        """Check the steps since the last check and the weights, then all processes gather RNG
        states and the main process writes `name` atomically: no checkpoint holds weights that
        a non-finite step touched."""
        self._check_steps()
        params = list(self.model.parameters())
        if params and not bool(torch.stack([torch.isfinite(p).all() for p in params]).all()):
            raise NonFiniteLossError(f"weights became non-finite at step {self.step}; "
                                     f"not saving {name}; last good checkpoint: {self.ckpt_dir / 'last.pt'}")
        rng = [ck.capture_rng()]
        if self.env.distributed:
            rng = [None] * self.env.world_size  # type: ignore[list-item]
            dist.all_gather_object(rng, ck.capture_rng())
        if self.env.is_main:
            ck.save_training_checkpoint(
                self.ckpt_dir / name, self.model, self.model_config, self.codec, position=pos,
                optimizer=stage.opt, scheduler=stage.sched, scaler=stage.scaler, rng=rng,
                run_config=experiment_to_dict(self.exp), metrics=self.metrics, best=self.best,
                stage_best=self.stage_best,
                optimizer_stage=self.stage_index, trainer_state=self.trainer_state(),
            )


def _to_device(batch: dict[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, Tensor) else v for k, v in batch.items()}

