"""LR schedules (hand-computed values) and optimiser construction."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from movnect.train.config import OptimizerConfig, ScheduleConfig
from movnect.train.schedules import build_optimizer, build_scheduler, lr_factor, param_groups


def test_warmup_then_cosine_hand_computed() -> None:
    cfg = ScheduleConfig(name="cosine", warmup_steps=4, warmup_start=0.2, min_factor=0.1)
    assert [lr_factor(s, 14, cfg) for s in range(4)] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert lr_factor(4, 14, cfg) == pytest.approx(1.0)
    # halfway through the 10 cosine steps: 0.1 + 0.9 * 0.5 * (1 + cos(pi / 2))
    assert lr_factor(9, 14, cfg) == pytest.approx(0.1 + 0.45)
    assert lr_factor(14, 14, cfg) == pytest.approx(0.1)
    assert lr_factor(100, 14, cfg) == pytest.approx(0.1)  # clamped past the end


def test_step_schedule_hand_computed() -> None:
    cfg = ScheduleConfig(name="step", milestones=(0.5, 0.75), gamma=0.1)
    assert [lr_factor(s, 8, cfg) for s in (0, 3, 4, 5, 6, 7)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    assert lr_factor(5, 8, ScheduleConfig(name="constant")) == 1.0


def test_scheduler_applies_factor_and_resumes_from_state() -> None:
    model = nn.Linear(3, 2)
    cfg = ScheduleConfig(name="cosine", warmup_steps=2, min_factor=0.0)
    opt = build_optimizer(model.named_parameters(), OptimizerConfig(name="sgd", lr=0.5))
    sched = build_scheduler(opt, cfg, 10)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.5 * lr_factor(s, 10, cfg) for s in range(6)])
    # a fresh optimizer + scheduler loaded from the states continue at step 6
    opt2 = build_optimizer(model.named_parameters(), OptimizerConfig(name="sgd", lr=0.5))
    sched2 = build_scheduler(opt2, cfg, 10)
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(sched.state_dict())
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.5 * lr_factor(6, 10, cfg))
    assert math.isclose(opt2.param_groups[0]["lr"], opt.param_groups[0]["lr"])


@pytest.mark.parametrize("name, cls", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW), ("sgd", torch.optim.SGD)])
def test_optimizers_and_no_decay_on_biases_and_norms(name: str, cls: type) -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    opt = build_optimizer(model.named_parameters(), OptimizerConfig(name=name, lr=1e-3, weight_decay=0.05))
    assert isinstance(opt, cls)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.05 and [p.shape for p in decay["params"]] == [torch.Size([4, 3, 3, 3])]
    assert no_decay["weight_decay"] == 0.0 and len(no_decay["params"]) == 3  # conv bias, bn weight + bias
    frozen = nn.Linear(2, 2).requires_grad_(False)
    assert param_groups(frozen.named_parameters(), 0.1) == []
    with pytest.raises(ValueError, match="no trainable parameters"):
        build_optimizer(frozen.named_parameters(), OptimizerConfig())
