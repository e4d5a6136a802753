"""Training run configuration: one `ExperimentConfig` read from TOML, strict and overridable.

A run is a model + codec + data + a list of stages, each stage with its own data sources,
loss, optimiser and schedule (VNect and MoVNect: 2D pretraining with heatmaps only, then 3D).
File layout (see configs/*.toml):

    [model]  ModelConfig          [codec]  CodecConfig        [data]  DataConfig
    [train]  TrainConfig (seed, device, AMP, clipping, logging, checkpoint cadence)
    [[stages]]  StageConfig, one table per stage, with [stages.optimizer], [stages.schedule],
                [stages.loss] sub-tables

`load_experiment(path, overrides)` applies `--set` overrides (`train.seed=1`,
`stages.1.epochs=3`) before validation. `dump_toml` writes the resolved config back out (the
run folder's config.toml re-runs the same experiment).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from movnect.codec import CodecConfig
from movnect.data.transforms import AugmentConfig
from movnect.config import ConfigError, apply_overrides, from_dict, read_toml, to_dict
from movnect.locks import check_path_name
from movnect.models import ModelConfig


@dataclass(frozen=True)
class DataConfig:
    """Where the training data lives and which rows each split uses."""

    h36m: str = ""                 # training HDF5 file written by `movnect prepare-h36m` (or for synth)
    h36m_val: str = ""             # validation HDF5 file; "" = the training file (data.h36m)
    # Validation selects best.pt: a held-out TRAINING subject, never the test subjects S9, S11
    # (model selection on the test set inflates the reported numbers). docs/data.md.
    train_subjects: tuple[str, ...] = ("S1", "S5", "S6", "S7")
    val_subjects: tuple[str, ...] = ("S8",)
    train_frame_step: int = 5      # every n-th video frame (see docs/training.md)
    val_frame_step: int = 80       # a multiple of the validation file's frame step
    coco: str = ""                 # COCO keypoints JSON (2D-only data)
    coco_images: str = ""          # folder with the JSON's images
    pseudo: str = ""               # HDF5 file written by `movnect label` (pseudo-labelled footage)
    mpii: str = ""                 # MPII annotations JSON (2D-only data)
    mpii_images: str = ""
    # person crops without labels (`movnect crops`): only a teacher supervises them, so a stage
    # using source "unlabelled" needs `movnect distill` with method mimicry or dwpose
    unlabelled: str = ""
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # training samples only

    def __post_init__(self) -> None:
        if self.train_frame_step < 1 or self.val_frame_step < 1:
            raise ValueError("frame steps must be >= 1")


@dataclass(frozen=True)
class OptimizerConfig:
    name: Literal["adam", "adamw", "sgd"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4     # not applied to biases and normalisation weights
    betas: tuple[float, float] = (0.9, 0.999)  # adam / adamw
    momentum: float = 0.9          # sgd
    nesterov: bool = False         # sgd

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.weight_decay < 0:
            raise ValueError(f"lr must be > 0 and weight_decay >= 0, got {self.lr}, {self.weight_decay}")


@dataclass(frozen=True)
class ScheduleConfig:
    """Learning rate factor over a stage's optimisation steps (movnect.train.schedules)."""

    name: Literal["cosine", "step", "constant"] = "cosine"
    warmup_steps: int = 0          # linear ramp from warmup_start * lr to lr
    warmup_start: float = 0.01
    min_factor: float = 0.01       # cosine: final lr = min_factor * lr
    milestones: tuple[float, ...] = (0.6, 0.85)  # step: fractions of the stage's steps
    gamma: float = 0.1             # step: factor applied at each milestone

    def __post_init__(self) -> None:
        if self.warmup_steps < 0 or not 0 <= self.warmup_start <= 1 or not 0 <= self.min_factor <= 1:
            raise ValueError("warmup_steps >= 0, warmup_start and min_factor in [0, 1] required")
        if any(not 0 < m < 1 for m in self.milestones) or list(self.milestones) != sorted(self.milestones):
            raise ValueError(f"milestones must be increasing fractions in (0, 1), got {self.milestones}")


@dataclass(frozen=True)
class LossConfig:
    """Weights of the loss terms (movnect.train.losses). 3D terms apply in 3D stages only."""

    heatmap: float = 1.0     # MSE of heatmaps (masked per joint by mask2d)
    location: float = 1.0    # || H_gt * (X - X_gt) ||^2 for X, Y, Z (has3d samples)
    bones: float = 0.0       # same mask on the dX, dY, dZ parent-relative bone maps

    def __post_init__(self) -> None:
        if min(self.heatmap, self.location, self.bones) < 0:
            raise ValueError("loss weights must be >= 0")


@dataclass(frozen=True)
class StageConfig:
    name: str = "3d"
    kind: Literal["2d", "3d"] = "3d"  # 2d: heatmap loss only; 3d: + location (+ bone) maps
    sources: tuple[Literal["h36m", "pseudo", "coco", "mpii", "unlabelled"], ...] = ("h36m",)
    # samples per epoch of each source as a multiple of its size (same order as sources;
    # empty: 1 each); e.g. (1.0, 3.0) shows a small pseudo-labelled set three times per epoch
    source_weights: tuple[float, ...] = ()
    epochs: int = 1
    steps_per_epoch: int = 0       # 0: one pass over the sources; > 0: at most this many steps
    batch_size: int = 32           # per process
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss: LossConfig = field(default_factory=LossConfig)

    def __post_init__(self) -> None:
        check_path_name(self.name, "stage name")  # names checkpoints/stage-<name>.pt
        if self.epochs < 1 or self.batch_size < 1 or self.steps_per_epoch < 0:
            raise ValueError(f"stage {self.name!r}: epochs and batch_size >= 1, steps_per_epoch >= 0 required")
        if not self.sources:
            raise ValueError(f"stage {self.name!r}: needs at least one data source")
        if len(set(self.sources)) != len(self.sources):
            raise ValueError(f"stage {self.name!r}: repeated source in {self.sources}")
        if self.source_weights and (len(self.source_weights) != len(self.sources)
                                    or min(self.source_weights) <= 0):
            raise ValueError(f"stage {self.name!r}: source_weights needs one positive weight per source "
                             f"{self.sources}, got {self.source_weights}")


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: Literal["off", "bf16", "fp16"] = "bf16"  # autocast dtype on CUDA; CPU always runs fp32
    grad_clip: float = 0.0         # max global gradient norm; 0 = off
    workers: int = 4               # DataLoader workers per process
    log_every: int = 20            # steps between scalar logs
    ckpt_every: int = 500          # steps between last.pt writes (also at every epoch end); 0 = epochs only
    val_every: int = 1             # epochs between validations; 0 = never
    val_max_samples: int = 2048    # evenly spaced validation rows; 0 = all
    val_batch_size: int = 32
    image_panels: int = 2          # samples drawn in the TensorBoard panels at each validation
    init_from: str = ""            # checkpoint whose weights start the run (same model config)

    def __post_init__(self) -> None:
        if min(self.grad_clip, self.workers, self.log_every, self.ckpt_every, self.val_every,
               self.val_max_samples, self.image_panels) < 0 or self.val_batch_size < 1 or self.log_every < 1:
            raise ValueError("train: counts must be >= 0 (log_every, val_batch_size >= 1)")


@dataclass(frozen=True)
class ExperimentConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    codec: CodecConfig = field(default_factory=CodecConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    stages: tuple[StageConfig, ...] = (StageConfig(),)

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("at least one [[stages]] table is required")
        if self.model.num_joints != self.codec.num_joints:
            raise ValueError(
                f"model.num_joints {self.model.num_joints} != codec.num_joints {self.codec.num_joints}"
            )
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique, got {names}")


def experiment_from_dict(data: dict[str, Any]) -> ExperimentConfig:
    """ExperimentConfig from a nested dict (unknown keys and wrong types raise ConfigError)."""
    return from_dict(ExperimentConfig, data)


def load_experiment(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read a TOML experiment file, apply `key=value` overrides, validate."""
    return experiment_from_dict(apply_overrides(read_toml(path), overrides or []))


# ---- writing the resolved config ------------------------------------------------------------

def _toml_value(v: Any, where: str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return repr(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else _bad(v, where)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x, where) for x in v) + "]"
    return _bad(v, where)


def _bad(v: Any, where: str) -> str:
    raise ConfigError(f"{where}: value {v!r} cannot be written to TOML")


def dump_toml(data: dict[str, Any]) -> str:
    """Nested dict -> TOML text (tables, arrays of tables, scalars, arrays; None is left out)."""
    lines: list[str] = []

    def table(d: dict[str, Any], prefix: str, header: str | None) -> None:
        scalars = {k: v for k, v in d.items() if v is not None and not _is_table(v) and not _is_table_array(v)}
        if header is not None:
            lines.append("")
            lines.append(header)
        for k, v in scalars.items():
            lines.append(f"{k} = {_toml_value(v, prefix + k)}")
        for k, v in d.items():
            if _is_table(v):
                table(v, f"{prefix}{k}.", f"[{prefix}{k}]")
            elif _is_table_array(v):
                for item in v:
                    table(item, f"{prefix}{k}.", f"[[{prefix}{k}]]")

    table(data, "", None)
    return "\n".join(lines).lstrip("\n") + "\n"


def _is_table(v: Any) -> bool:
    return isinstance(v, dict)


def _is_table_array(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and len(v) > 0 and all(isinstance(x, dict) for x in v)


def experiment_to_dict(cfg: ExperimentConfig) -> dict[str, Any]:
    return to_dict(cfg)
