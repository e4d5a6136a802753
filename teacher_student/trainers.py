"""Distillation trainers plugged into the training loop (movnect.train.loop.Trainer).

Each trainer overrides the loop's hooks only (train_module, compute_loss, trainer_state /
load_trainer_state, on_stage_start) and inherits the rest: stages, optimiser and schedule,
AMP, clipping, DDP (the loop wraps train_module() afresh at every stage start, so DWPose's
stage 2, which trains another module with a frozen backbone, gets its own wrapper),
checkpoints and exact resume, logging, validation.

  MimicryTrainer   MoVNect / FPD: teacher-blended heatmap and location-map losses
  DWPoseTrainer    stage 1 (feature + logit + location distillation, r(t) decay) in every
                   stage but the one named dwpose.self_kd_stage, which runs stage 2 (frozen
                   backbone, fresh head, self-KD from the frozen stage-1 model)
  OKDHPTrainer     multi-branch student with FAU ensemble; `self.model` is a view of one
                   branch (the best at the last validation), so every checkpoint the loop
                   writes is a normal MoVNect student checkpoint

The teacher is frozen (eval mode, requires_grad False, forward under no_grad) and never part
of the trained module, DDP wrapper, optimiser or checkpoint.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from movnect.checkpoint import CheckpointError, load_model
from movnect.codec import Codec
from movnect.models import ModelConfig, PoseOutput
from movnect.train.distributed import DistEnv
from movnect.train.logging import RunLogger
from movnect.train.config import ExperimentConfig
from movnect.train.loop import Trainer
from movnect.train.losses import LossTerms, bone_targets, masked_vector_loss
from movnect.train.validation import validate
from teacher_student import dwpose as dw
from teacher_student.config import DWPoseConfig, MimicryConfig, OKDHPConfig
from teacher_student.losses import (
    ensemble_divergence,
    feature_loss,
    heatmap_kl_loss,
    masked_location_distill_loss,
    mimicry_heatmap_loss,
    mimicry_location_loss,
)
from teacher_student.okdhp import MultiBranchMoVNect, branch_view, point_view
from teacher_student.schedules import dwpose_decay, okdhp_ramp


class TeacherMismatchError(CheckpointError):
    """A teacher whose joints or codec differ from the student's."""


class TeacherOutputs(NamedTuple):
    maps: Tensor            # (B, 4J, h, w) float32
    feature: Tensor | None  # (B, C_T, h/2, w/2) float32, when asked for


class FrozenTeacher:
    """The teacher network, frozen; outputs come from the batch's cached keys where present
    (teacher_student.cache.CachedTeacherDataset) and from a no-grad forward otherwise."""

    def __init__(self, model: nn.Module, config: ModelConfig, path: str) -> None:
        self.model, self.config, self.path = model.eval(), config, path
        for p in self.model.parameters():
            p.requires_grad_(False)

    def to(self, device: torch.device) -> "FrozenTeacher":
        self.model.to(device)
        return self

    @torch.no_grad()
    def outputs(self, batch: dict[str, Tensor], need_feature: bool) -> TeacherOutputs:
        """Teacher maps (and feature) for every row of the batch: cached rows from the batch's
        teacher_* keys, and a live forward on the uncached rows only (a mixed batch of 2D-only
        and cached Human3.6M samples pays the teacher for its 2D-only part alone)."""
        self.model.eval()  # never let a caller's .train() reach the teacher's BatchNorm
        cached = batch.get("teacher_cached")
        usable = cached is not None and (not need_feature or "teacher_feature" in batch)
        have = (cached > 0) if usable else torch.zeros(len(batch["image"]), dtype=torch.bool,
                                                         device=batch["image"].device)
        if bool(have.all()):
            feat = batch["teacher_feature"].float() if need_feature else None
            return TeacherOutputs(batch["teacher_maps"].float(), feat)
        if not bool(have.any()):
            out = self.model(batch["image"])
            return TeacherOutputs(out.maps.float(), out.feature.float() if need_feature else None)
        miss = ~have
        out = self.model(batch["image"][miss])
        maps = batch["teacher_maps"].float().clone()
        maps[miss] = out.maps.float()
        feat = None
        if need_feature:
            feat = batch["teacher_feature"].float().clone()
            feat[miss] = out.feature.float()
        return TeacherOutputs(maps, feat)


def load_teacher(path: str | Path, student: ModelConfig, codec: Codec) -> FrozenTeacher:
    """Read a teacher checkpoint; TeacherMismatchError (one line) if its joints or codec differ."""
    model, cfg, tcodec, _ = load_model(path)
    if cfg.num_joints != student.num_joints:
        raise TeacherMismatchError(f"teacher {path} predicts {cfg.num_joints} joints, the student "
                                   f"{student.num_joints}: distillation needs the same joints")
    mine, theirs = codec.to_dict(), tcodec.to_dict()
    diff = sorted(k for k in mine if mine.get(k) != theirs.get(k))
    if diff:
        shown = ", ".join(f"{k} {theirs.get(k)!r} vs {mine.get(k)!r}" for k in diff)
        raise TeacherMismatchError(f"teacher {path} uses another codec than the student (teacher vs student: {shown})")
    return FrozenTeacher(model, cfg, str(path))


def _terms(total: Tensor, parts: dict[str, Tensor]) -> LossTerms:
    out = {k: v.detach() for k, v in parts.items()}
    out["total"] = total.detach()
    return LossTerms(total, out)


def _bones_term(trainer: Trainer, out: PoseOutput, batch: dict[str, Tensor]) -> Tensor | None:
    """The supervised bone-map term of the stage (as in PoseLoss), or None when off."""
    if trainer.stage.kind != "3d" or trainer.stage.loss.bones <= 0:
        return None
    target = bone_targets(batch["joints3d"], trainer.codec)
    return masked_vector_loss(out.bones.float(), target, batch["heatmaps"], batch["has3d"])


class MimicryTrainer(Trainer):
    """L = w_hm L_HM + w_loc L_LM (+ supervised bones), stage.loss weights; see losses.py."""

    def __init__(self, model: nn.Module, model_config: ModelConfig, codec: Codec, experiment: ExperimentConfig,
                 run_dir: str | Path, env: DistEnv, teacher: FrozenTeacher, cfg: MimicryConfig,
                 logger: RunLogger | None = None) -> None:
        super().__init__(model, model_config, codec, experiment, run_dir, env, logger)
        self.teacher, self.mimicry = teacher.to(env.device), cfg

    def compute_loss(self, batch: dict[str, Tensor]) -> LossTerms:
        out = self.forward(batch["image"])
        t = self.teacher.outputs(batch, need_feature=False)
        hs, ls = self.codec.split(out.maps.float())
        ht, lt = self.codec.split(t.maps)
        a, w = self.mimicry.alpha, self.stage.loss
        parts = {
            "heatmap": mimicry_heatmap_loss(hs, batch["heatmaps"], ht, batch["mask2d"], a),
            "location": mimicry_location_loss(ls, batch["locmaps"], lt, batch["heatmaps"], ht, batch["mask2d"],
                                              batch["has3d"], a, use_gt=self.stage.kind == "3d"),
        }
        total = w.heatmap * parts["heatmap"] + w.location * parts["location"]
        bones = _bones_term(self, out, batch)
        if bones is not None:
            parts["bones"] = bones
            total = total + w.bones * bones
        return _terms(total, parts)


class DWPoseTrainer(Trainer):
    """DWPose stage 1 and stage 2 (teacher_student.dwpose) over the experiment's stages."""

    def __init__(self, model: nn.Module, model_config: ModelConfig, codec: Codec, experiment: ExperimentConfig,
                 run_dir: str | Path, env: DistEnv, teacher: FrozenTeacher, cfg: DWPoseConfig,
                 logger: RunLogger | None = None) -> None:
        super().__init__(model, model_config, codec, experiment, run_dir, env, logger)
        self.teacher, self.dw = teacher.to(env.device), cfg
        dw.head_modules(model_config)  # refuse a non-student architecture up front
        size = codec.config.input_size
        proj = None
        if cfg.feature_weight > 0:
            proj = dw.FeatureProjector(dw.feature_channels(self.model, size), dw.feature_channels(teacher.model, size))
        self.wrapper = dw.StudentWithProjector(self.model, proj).to(env.device)
        self.reference: nn.Module | None = None  # the frozen stage-1 model, in stage 2

    @property
    def in_self_kd(self) -> bool:
        return bool(self.dw.self_kd_stage) and self.stage.name == self.dw.self_kd_stage

    def train_module(self) -> nn.Module:
        return self.model if self.in_self_kd else self.wrapper

    def on_stage_start(self, index: int) -> None:
        super().on_stage_start(index)
        if self.in_self_kd:
            if self.reference is None:  # a fresh stage 2 (on resume the reference is restored)
                self.reference = dw.frozen_copy(self.model)
                dw.reset_head(self.model, self.model_config, seed=self.cfg.seed + 1000 + index)
            dw.freeze_backbone(self.model, self.model_config)

    def distill_epoch(self) -> tuple[int, int]:
        """(t, t_max) of DWPose's decay r(t): t = 1-based epoch counted over ALL stage-1 stages
        (every stage but self_kd_stage, e.g. 2D pretraining then 3D), t_max = their epochs. As in
        DWPose, where stage 1 is one training run: r decays once over the whole distillation
        instead of restarting at every stage."""
        stages = [s for s in self.exp.stages if s.name != self.dw.self_kd_stage]
        before = sum(s.epochs for s in self.exp.stages[: self.stage_index] if s.name != self.dw.self_kd_stage)
        return before + self.epoch + 1, sum(s.epochs for s in stages)

    def compute_loss(self, batch: dict[str, Tensor]) -> LossTerms:
        if self.in_self_kd:
            return self._self_kd_loss(batch)
        out, proj = self.forward(batch["image"])
        gt = self.loss_fn(out, batch)
        t = self.teacher.outputs(batch, need_feature=self.dw.feature_weight > 0)
        hs, ls = self.codec.split(out.maps.float())
        ht, lt = self.codec.split(t.maps)
        r = dwpose_decay(*self.distill_epoch())
        parts = dict(gt.parts)
        parts.pop("total")
        kd = {"kd_logit": heatmap_kl_loss(hs, ht, self.dw.beta), "kd_location": masked_location_distill_loss(ls, lt, ht)}
        distill = self.dw.logit_weight * kd["kd_logit"] + self.dw.location_weight * kd["kd_location"]
        if proj is not None and t.feature is not None:
            kd["kd_feature"] = feature_loss(proj.float(), t.feature)
            distill = distill + self.dw.feature_weight * kd["kd_feature"]
        parts.update(kd)
        parts["kd_decay"] = torch.tensor(r)
        return _terms(gt.total + r * distill, parts)

    def _self_kd_loss(self, batch: dict[str, Tensor]) -> LossTerms:
        dw.backbone_eval(self.model, self.model_config)  # the loop's model.train() re-enabled it
        assert self.reference is not None
        with torch.no_grad():
            old = self.reference(batch["image"])
        new = self.forward(batch["image"])
        parts = dw.self_kd_losses(new, old, self.model_config.num_joints, self.dw.beta,
                                  bones=self.stage.loss.bones > 0)
        return _terms(sum(parts.values()), parts)  # type: ignore[arg-type]

    def trainer_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        if self.wrapper.projector is not None:
            state["projector"] = self.wrapper.projector.state_dict()
        if self.reference is not None:
            state["stage1_model"] = {k: v.detach().cpu() for k, v in self.reference.state_dict().items()}
        return state

    def load_trainer_state(self, state: dict[str, Any]) -> None:
        if "projector" in state and self.wrapper.projector is not None:
            self.wrapper.projector.load_state_dict(state["projector"])
        if "stage1_model" in state:
            self.reference = dw.frozen_copy(self.model)
            self.reference.load_state_dict(state["stage1_model"])


class OKDHPTrainer(Trainer):
    """OKDHP: L = sum_b L_GT(b) + L_GT(ens) + kd_w ramp(t) sum_b [D(H_b, H_ens) + w_loc L_loc(b, ens)].

    `net` is trained; `self.model` (what the loop validates and saves) is a parameter-sharing
    view of branch `best_branch`, re-pointed after every validation to the branch with the
    lowest validation MPJPE (2D error in 2D stages). Every branch and the ensemble are logged.
    """

    def __init__(self, net: MultiBranchMoVNect, model_config: ModelConfig, codec: Codec,
                 experiment: ExperimentConfig, run_dir: str | Path, env: DistEnv, cfg: OKDHPConfig,
                 logger: RunLogger | None = None) -> None:
        if model_config.name != "movnect":
            raise ValueError(f"OKDHP builds a multi-branch MoVNect; model config is {model_config.name!r}")
        self.net, self.okd, self.best_branch = net.to(env.device), cfg, 0
        super().__init__(branch_view(net, 0), model_config, codec, experiment, run_dir, env, logger)

    def train_module(self) -> nn.Module:
        return self.net

    def compute_loss(self, batch: dict[str, Tensor]) -> LossTerms:
        self.net.train()  # the loop toggles self.model (one branch) only
        out = self.forward(batch["image"])
        j = self.codec.num_joints
        total, parts = 0.0, {}
        gts = [self.loss_fn(o, batch) for o in out.branches]
        ens_gt = self.loss_fn(out.ensemble, batch)
        total = sum(g.total for g in gts) + ens_gt.total
        h_ens, l_ens = out.ensemble.maps[:, :j].float().detach(), out.ensemble.maps[:, j:].float().detach()
        kd = 0.0
        for b, o in enumerate(out.branches):
            d = ensemble_divergence(o.maps[:, :j].float(), h_ens, self.okd.divergence, self.okd.beta)
            parts[f"kd_branch{b}"] = d
            kd = kd + d
            if self.stage.kind == "3d" and self.okd.location_weight > 0:
                loc = masked_location_distill_loss(o.maps[:, j:].float(), l_ens, h_ens)
                parts[f"kd_location{b}"] = loc
                kd = kd + self.okd.location_weight * loc
        epochs_done = self.stage_progress * self.stage.epochs  # of this stage, when this step starts
        ramp = okdhp_ramp(epochs_done, self.okd.ramp_fraction * self.stage.epochs)
        total = total + self.okd.kd_weight * ramp * kd
        for b, g in enumerate(gts):
            parts[f"gt_branch{b}"] = g.parts["total"]
        parts["gt_ensemble"] = ens_gt.parts["total"]
        parts["kd_ramp"] = torch.tensor(ramp)
        return _terms(total, parts)  # type: ignore[arg-type]

    def _validate(self, loader: DataLoader) -> bool:  # the loop's validation, per branch first
        key = "val/mpjpe" if self.stage.kind == "3d" else "val/err2d_px"
        scores, logged = [], {}
        self.net.eval()
        try:
            for b in range(self.net.num_branches):
                point_view(self.model, self.net, b)
                figures, _ = validate(self.model, self.codec, loader, self.env, 0)
                scores.append(figures.get(key, float("inf")))
                logged.update({f"{k}_branch{b}": v for k, v in figures.items() if k != "val/samples"})
            figures, _ = validate(lambda x: self.net(x).ensemble, self.codec, loader, self.env, 0)
            logged.update({f"{k}_ensemble": v for k, v in figures.items() if k != "val/samples"})
        finally:
            self.net.train()
        self.best_branch = min(range(len(scores)), key=scores.__getitem__)
        point_view(self.model, self.net, self.best_branch)
        logged["val/best_branch"] = float(self.best_branch)
        self.logger.scalars(logged, self.step)
        return super()._validate(loader)

    def trainer_state(self) -> dict[str, Any]:
        return {"multi_branch": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
                "best_branch": self.best_branch, "branches": self.net.num_branches}

    def load_trainer_state(self, state: dict[str, Any]) -> None:
        if "multi_branch" in state:
            self.net.load_state_dict(state["multi_branch"])
            self.best_branch = int(state["best_branch"])
            point_view(self.model, self.net, self.best_branch)
