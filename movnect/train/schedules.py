"""Optimisers and learning-rate schedules built from the stage config.

The schedule is a pure function `lr_factor(step, total_steps, cfg)` (the multiplier of the
configured lr after `step` optimisation steps), wrapped in a LambdaLR so its position is part
of the scheduler's state_dict and resumes exactly.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from movnect.train.config import OptimizerConfig, ScheduleConfig


def lr_factor(step: int, total_steps: int, cfg: ScheduleConfig) -> float:
    """Multiplier of the base lr for the update after `step` updates (0-based) of `total_steps`.

    Warmup: linear from `warmup_start` to 1 over `warmup_steps`. Then cosine from 1 to
    `min_factor` over the remaining steps, or `gamma ** k` after k passed milestones (fractions
    of `total_steps`), or constant 1.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if step < cfg.warmup_steps:
        return cfg.warmup_start + (1.0 - cfg.warmup_start) * step / cfg.warmup_steps
    if cfg.name == "constant":
        return 1.0
    if cfg.name == "step":
        passed = sum(step >= m * total_steps for m in cfg.milestones)
        return cfg.gamma**passed
    if cfg.name == "cosine":
        span = max(total_steps - cfg.warmup_steps, 1)
        t = min(max(step - cfg.warmup_steps, 0) / span, 1.0)
        return cfg.min_factor + (1.0 - cfg.min_factor) * 0.5 * (1.0 + math.cos(math.pi * t))
    raise ValueError(f"unknown schedule {cfg.name!r}")


def param_groups(params: Iterable[tuple[str, nn.Parameter]], weight_decay: float) -> list[dict]:
    """Split named parameters: weight decay on weights of dim >= 2 only (not biases or norms)."""
    decay, no_decay = [], []
    for _name, p in params:
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def build_optimizer(named_params: Iterable[tuple[str, nn.Parameter]], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    """Adam / AdamW / SGD over `named_params` (e.g. model.named_parameters())."""
    groups = param_groups(named_params, cfg.weight_decay)
    if not groups:
        raise ValueError("build_optimizer: no trainable parameters")
    if cfg.name == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)
    if cfg.name == "adam":
        # Adam's weight_decay is L2 added to the gradient (not decoupled), as torch defines it.
        return torch.optim.Adam(groups, lr=cfg.lr, betas=cfg.betas)
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    raise ValueError(f"unknown optimizer {cfg.name!r}")


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: ScheduleConfig, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """LambdaLR applying `lr_factor`; call `.step()` after every optimiser step."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total_steps, cfg))
