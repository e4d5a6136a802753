"""Distillation configuration: the `[distill]` table of a distillation experiment file.

A distillation run is a training experiment (movnect.train.config.ExperimentConfig: [model],
[codec], [data], [train], [[stages]]) plus one `[distill]` table read into `DistillConfig`:

    [distill]
    method = "mimicry"            # mimicry | dwpose | okdhp
    teacher = "runs/teacher/checkpoints/best.pt"   # mimicry, dwpose (okdhp has no teacher)
    cache = ""                    # HDF5 teacher-output cache, "" = run the teacher live
    [distill.mimicry]  alpha ...
    [distill.dwpose]   feature_weight, logit_weight, location_weight, beta, self_kd_stage
    [distill.okdhp]    branches, kd_weight, divergence, beta, ramp_fraction, fau_hidden

`load_distill_experiment(path, overrides)` splits the file into (ExperimentConfig,
DistillConfig); `--set distill.mimicry.alpha=0.3` style overrides reach both.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from movnect.config import ConfigError, apply_overrides, from_dict, read_toml, to_dict

METHODS = ("mimicry", "dwpose", "okdhp")


@dataclass(frozen=True)
class MimicryConfig:
    """MoVNect / Fast Pose Distillation: loss = alpha * GT term + (1 - alpha) * teacher term."""

    alpha: float = 0.5          # weight of the ground-truth terms where a label exists

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"mimicry.alpha must lie in [0, 1], got {self.alpha}")


@dataclass(frozen=True)
class DWPoseConfig:
    """DWPose two-stage distillation (teacher_student.dwpose).

    Stage 1 = every stage of the experiment except `self_kd_stage`: L_GT + r(t) (feature_weight
    L_fea + logit_weight L_logit + location_weight L_loc), r(t) decaying once over all of them.
    DWPose's own effective weights in this normalisation are feature 7e-5 x C x H x W of the
    teacher feature (~4.6 for VNect at 256 px) and logit 0.1 (docs/distillation.md). Stage 2 = the stage named
    `self_kd_stage` (it must be the last one): frozen backbone, fresh head, distillation from the
    frozen stage-1 head only ("" = no stage 2).
    """

    feature_weight: float = 1.0    # MSE(proj(F_S), F_T), mean over elements
    logit_weight: float = 1.0      # spatial-softmax KL per joint, mean over B * J
    location_weight: float = 1.0   # || clamp(H_T) (X_S - X_T) ||^2 per joint, mean over B * J
    beta: float = 10.0             # sharpening of the spatial softmax
    self_kd_stage: str = "head"    # name of the [[stages]] table that runs stage 2

    def __post_init__(self) -> None:
        if min(self.feature_weight, self.logit_weight, self.location_weight) < 0:
            raise ValueError("dwpose weights must be >= 0")
        if self.beta <= 0:
            raise ValueError(f"dwpose.beta must be > 0, got {self.beta}")


@dataclass(frozen=True)
class OKDHPConfig:
    """OKDHP online distillation (teacher_student.okdhp): no teacher, B peer branches."""

    branches: int = 3
    kd_weight: float = 2.0                 # weight of sum_b D(H_b, H_ens) at the end of the ramp
    divergence: Literal["kl", "mse"] = "mse"   # D; kl uses the sharpened spatial softmax
    beta: float = 10.0                     # sharpening of the KL divergence
    location_weight: float = 1.0           # branch location maps vs the ensemble's (masked)
    ramp_fraction: float = 0.3             # ramp exp(-5 (1 - t/L)^2) over this fraction of a stage
    fau_hidden: int = 32                   # width of the FAU's attention MLP

    def __post_init__(self) -> None:
        if self.branches < 2:
            raise ValueError(f"okdhp.branches must be >= 2, got {self.branches}")
        if self.kd_weight < 0 or self.location_weight < 0 or self.beta <= 0:
            raise ValueError("okdhp: kd_weight, location_weight >= 0 and beta > 0 required")
        if not 0.0 <= self.ramp_fraction <= 1.0:
            raise ValueError(f"okdhp.ramp_fraction must lie in [0, 1], got {self.ramp_fraction}")
        if self.fau_hidden < 1:
            raise ValueError(f"okdhp.fau_hidden must be >= 1, got {self.fau_hidden}")


@dataclass(frozen=True)
class DistillConfig:
    method: Literal["mimicry", "dwpose", "okdhp"] = "mimicry"
    teacher: str = ""              # teacher checkpoint (mimicry, dwpose)
    cache: str = ""                # teacher-output HDF5 cache (teacher_student.cache); "" = live
    mimicry: MimicryConfig = field(default_factory=MimicryConfig)
    dwpose: DWPoseConfig = field(default_factory=DWPoseConfig)
    okdhp: OKDHPConfig = field(default_factory=OKDHPConfig)

    def __post_init__(self) -> None:
        if self.method in ("mimicry", "dwpose") and not self.teacher:
            raise ValueError(f"distill.method = {self.method!r} needs distill.teacher (a checkpoint path)")
        if self.method == "okdhp" and (self.teacher or self.cache):
            raise ValueError("distill.method = 'okdhp' trains without a teacher: leave distill.teacher and distill.cache empty")

    @property
    def uses_teacher(self) -> bool:
        return self.method in ("mimicry", "dwpose")


def split_distill_dict(data: dict[str, Any]) -> tuple[dict[str, Any], DistillConfig]:
    """Nested dict of a distillation file -> (the experiment part, DistillConfig)."""
    data = dict(data)
    if "distill" not in data:
        raise ConfigError("a distillation config needs a [distill] table (method = mimicry | dwpose | okdhp)")
    distill = from_dict(DistillConfig, data.pop("distill"), "distill")
    return data, distill


def load_distill_experiment(path: str | Path, overrides: list[str] | None = None):  # noqa: ANN201
    """Read a distillation TOML file with `key=value` overrides.

    Returns (ExperimentConfig, DistillConfig). Stage checks that involve both (DWPose's
    self_kd_stage must name the last stage) are done here.
    """
    from movnect.train.config import experiment_from_dict

    data = apply_overrides(read_toml(path), overrides or [])
    rest, distill = split_distill_dict(data)
    exp = experiment_from_dict(rest)
    check_stages(exp, distill)
    return exp, distill


def check_stages(exp: Any, distill: DistillConfig) -> None:
    """ConfigError when the experiment's stages do not fit the method (see DWPoseConfig)."""
    names = [s.name for s in exp.stages]
    if distill.method == "dwpose" and distill.dwpose.self_kd_stage:
        name = distill.dwpose.self_kd_stage
        if name not in names:
            raise ConfigError(f"distill.dwpose.self_kd_stage {name!r} names no stage (stages: {', '.join(names)})")
        if names[-1] != name or len(names) < 2:
            raise ConfigError(f"distill.dwpose.self_kd_stage {name!r} must be the last of at least two stages (stages: {', '.join(names)})")
    if distill.method == "okdhp" and exp.model.name != "movnect":
        raise ConfigError(f"distill.method = 'okdhp' builds a multi-branch MoVNect; model.name is {exp.model.name!r}")


def distill_to_dict(exp: Any, distill: DistillConfig) -> dict[str, Any]:
    """The whole resolved file as a nested dict (experiment tables + [distill])."""
    out = to_dict(exp)
    out["distill"] = to_dict(distill)
    return out
