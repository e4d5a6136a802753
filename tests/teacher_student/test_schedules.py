"""Distillation weight schedules against their formulas."""
from __future__ import annotations

import math

import pytest

from teacher_student.schedules import dwpose_decay, okdhp_ramp


def test_dwpose_decay_formula() -> None:
    assert dwpose_decay(1, 10) == 1.0
    assert dwpose_decay(3, 10) == pytest.approx(0.8)
    assert dwpose_decay(10, 10) == pytest.approx(0.1)  # last epoch keeps 1 / t_max
    assert dwpose_decay(1, 1) == 1.0
    values = [dwpose_decay(t, 7) for t in range(1, 8)]
    steps = [a - b for a, b in zip(values, values[1:])]
    assert all(s == pytest.approx(1 / 7) for s in steps)  # linear


def test_dwpose_decay_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="epoch must lie in"):
        dwpose_decay(0, 5)
    with pytest.raises(ValueError, match="epoch must lie in"):
        dwpose_decay(6, 5)
    with pytest.raises(ValueError, match="max_epochs"):
        dwpose_decay(1, 0)


def test_okdhp_ramp_formula() -> None:
    assert okdhp_ramp(0, 10) == pytest.approx(math.exp(-5))
    assert okdhp_ramp(5, 10) == pytest.approx(math.exp(-1.25))
    assert okdhp_ramp(8, 10) == pytest.approx(math.exp(-5 * 0.04))
    assert okdhp_ramp(10, 10) == 1.0
    assert okdhp_ramp(25, 10) == 1.0
    assert okdhp_ramp(3, 0) == 1.0  # no ramp
    values = [okdhp_ramp(t / 10, 1.0) for t in range(11)]
    assert all(a < b for a, b in zip(values, values[1:]))


def test_okdhp_ramp_rejects_negative() -> None:
    with pytest.raises(ValueError):
        okdhp_ramp(-1, 10)
    with pytest.raises(ValueError):
        okdhp_ramp(1, -10)
