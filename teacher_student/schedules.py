"""Weight schedules of the distillation terms.

* DWPose's linear decay over epochs: r(t) = 1 - (t - 1) / t_max, t = 1 .. t_max (1-based
  epoch), so the first epoch has the full distillation weight and the last 1 / t_max.
* OKDHP's ramp-up (the mean-teacher "sigmoid" ramp): ramp(t) = exp(-5 (1 - t / L)^2) for
  0 <= t <= L and 1 after; t and L in any one unit (the trainer uses fractional epochs).
"""
from __future__ import annotations

import math


def dwpose_decay(epoch: float, max_epochs: int) -> float:
    """r(t) = 1 - (t - 1) / t_max for 1-based epoch t in [1, t_max]."""
    if max_epochs < 1:
        raise ValueError(f"max_epochs must be >= 1, got {max_epochs}")
    if not 1 <= epoch <= max_epochs:
        raise ValueError(f"epoch must lie in [1, {max_epochs}], got {epoch}")
    return 1.0 - (epoch - 1.0) / max_epochs


def okdhp_ramp(t: float, length: float) -> float:
    """exp(-5 (1 - t / L)^2) for t in [0, L], 1 for t >= L (and for L = 0: no ramp)."""
    if t < 0:
        raise ValueError(f"t must be >= 0, got {t}")
    if length < 0:
        raise ValueError(f"ramp length must be >= 0, got {length}")
    if length == 0 or t >= length:
        return 1.0
    phase = 1.0 - t / length
    return math.exp(-5.0 * phase * phase)
