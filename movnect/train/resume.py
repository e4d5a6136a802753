"""Resuming a run: the full training state on top of movnect.checkpoint (which owns the file format
and the weights; this module owns where training resumes, RNG states and the resume checks).

A training checkpoint is a regular movnect checkpoint (so `movnect eval`, `predict` and export
read it like any other) whose `extra` holds:
  kind        "train-state"
  position    {stage, epoch, batch, step}: where the NEXT step starts (batches done in the
              current epoch, optimisation steps done in the run)
  optimizer, scheduler, scaler    state_dicts of the objects of stage `optimizer_stage` (the
              position may already point at the next stage, which starts fresh ones)
  rng         per-rank {python, numpy, torch, cuda} generator states, as tensors and plain
              data only (numpy's key as an int64 tensor), so the file loads with weights_only
  run_config  the resolved ExperimentConfig as a dict
  metrics     the latest validation figures; best = {stage, name, value, step}: the best over
              the stages scored by the same figure; stage_best = {stage name: the same, per stage}
  trainer     free-form state of a Trainer subclass (e.g. distillation projections)
  world_size  number of processes that wrote it
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from movnect import atomic
from movnect.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from movnect.codec import Codec
from movnect.models import ModelConfig

KIND = "train-state"


@dataclass
class Position:
    """Where training resumes: stage index, epoch in stage, batches done in that epoch,
    optimisation steps done since the start of the run."""

    stage: int = 0
    epoch: int = 0
    batch: int = 0
    step: int = 0


def capture_rng() -> dict[str, Any]:
    """The process's generator states (python, numpy, torch CPU, every CUDA device)."""
    name, key, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"bit_generator": str(name), "key": torch.from_numpy(key.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "torch": torch.random.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of `capture_rng` (CUDA states only where devices exist)."""
    random.setstate(state["python"])
    npy = state["numpy"]
    if isinstance(npy, dict):
        key = npy["key"].numpy() if isinstance(npy["key"], torch.Tensor) else np.asarray(npy["key"])
        npy = (npy["bit_generator"], key.astype(np.uint32), npy["pos"], npy["has_gauss"], npy["gauss"])
    np.random.set_state(npy)  # a tuple: checkpoints written before the tensor form
    torch.random.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_training_checkpoint(
    path: str | Path, model: nn.Module, model_config: ModelConfig, codec: Codec, *,
    position: Position, optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler | None,
    rng: list[dict[str, Any]], run_config: dict[str, Any], metrics: dict[str, float],
    best: dict[str, Any] | None, optimizer_stage: int, trainer_state: dict[str, Any] | None = None,
    stage_best: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Write model + full training state atomically (movnect.checkpoint.save_checkpoint)."""
    extra = {
        "kind": KIND,
        "position": asdict(position),
        "optimizer_stage": optimizer_stage,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": rng,
        "world_size": len(rng),
        "run_config": run_config,
        "metrics": dict(metrics),
        "best": best,
        "stage_best": dict(stage_best or {}),
        "trainer": trainer_state or {},
    }
    save_checkpoint(path, model, model_config, codec, extra)


def check_model_config(ckpt: dict[str, Any], expected: ModelConfig, source: str) -> None:
    """CheckpointError naming the differing fields if the checkpoint's model config differs."""
    stored = ckpt.get("model_config", {})
    want = asdict(expected)
    diff = sorted(k for k in set(stored) | set(want) if stored.get(k) != want.get(k))
    if diff:
        shown = ", ".join(f"{k}: checkpoint {stored.get(k)!r} vs config {want.get(k)!r}" for k in diff)
        raise CheckpointError(f"{source} does not match the model config ({shown})")


def read_training_checkpoint(path: str | Path, expected: ModelConfig) -> dict[str, Any]:
    """Raw checkpoint dict of a resumable run, checked against the model config."""
    ckpt = read_checkpoint(path)
    check_model_config(ckpt, expected, f"checkpoint {path}")
    extra = ckpt.get("extra") or {}
    if extra.get("kind") != KIND:
        raise CheckpointError(f"checkpoint {path} holds weights only, no training state to resume from")
    return ckpt


def position_of(ckpt: dict[str, Any]) -> Position:
    return Position(**ckpt["extra"]["position"])


def copy_checkpoint(src: str | Path, dst: str | Path) -> None:
    """Copy a checkpoint file atomically (movnect.atomic.copy_file)."""
    atomic.copy_file(src, dst)
