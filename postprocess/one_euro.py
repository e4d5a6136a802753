"""The 1-Euro filter (Casiez, Roussel and Vogel, CHI 2012), vectorised, with explicit timestamps.

One filter object smooths an array of points of any shape (..., D) (e.g. 17 joints x 3
coordinates): every point gets its own adaptive cutoff from the speed of that point (the
Euclidean norm of its filtered derivative over the last axis, so the filter does not depend
on the orientation of the axes).

Per step, with dt = t - t_prev (seconds, per point, so a point that was missing for a while
gets the right dt when it comes back):
    alpha(fc)  = 1 / (1 + 1 / (2 pi fc dt))
    dx_hat     = lowpass(d_cutoff)((x - x_hat_prev) / dt)
    fc         = min_cutoff + beta * |dx_hat| / scale
    x_hat      = lowpass(fc)(x)

`scale` makes one parameter set work at any person size or distance: speeds are measured in
units of `scale` per second. VNect's published values (presets below) were tuned in its own
units: 2D in pixels of a 368-px crop around the person and 3D in decimetres on a skeleton
normalised to a 92 cm knee-neck length. `vnect_scale_2d` and `vnect_scale_3d` give the scale
that reproduces those units from a crop side in pixels or a knee-neck length in mm.

Missing values (NaN in any coordinate of a point, or `valid` False) are held: the output for
that point is its last filtered value and its state is untouched; a point missing for longer
than `max_gap` seconds restarts from its next value (no smoothing towards an old position).
A point never seen yet is NaN in the output.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["OneEuroConfig", "OneEuroFilter", "VNECT_2D", "VNECT_3D", "vnect_scale_2d", "vnect_scale_3d"]


@dataclass(frozen=True)
class OneEuroConfig:
    """Parameters of the 1-Euro filter.

    min_cutoff: cutoff frequency at rest, Hz (lower = less jitter, more lag at low speed).
    beta: cutoff increase per unit of speed, Hz per (scale units / s) (higher = less lag).
    d_cutoff: cutoff of the derivative's low-pass, Hz.
    max_gap: seconds a point may be missing before its state is reset.
    """

    min_cutoff: float = 1.0
    beta: float = 0.0
    d_cutoff: float = 1.0
    max_gap: float = 0.5

    def __post_init__(self) -> None:
        for name in ("min_cutoff", "d_cutoff", "max_gap"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"OneEuroConfig.{name} must be finite and > 0, got {v}")
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise ValueError(f"OneEuroConfig.beta must be finite and >= 0, got {self.beta}")


# VNect's public port (see shared reference methods.md); use with vnect_scale_2d / _3d.
VNECT_2D = OneEuroConfig(min_cutoff=1.7, beta=0.3, d_cutoff=0.4)
VNECT_3D = OneEuroConfig(min_cutoff=0.8, beta=0.4, d_cutoff=0.4)


def vnect_scale_2d(crop_side_px: float) -> float:
    """Scale for 2D points in image pixels: one unit = one pixel of VNect's 368-px crop."""
    return float(crop_side_px) / 368.0


def vnect_scale_3d(knee_neck_mm: float = 920.0) -> float:
    """Scale for 3D points in mm: one unit = VNect's decimetre on a 92 cm knee-neck body."""
    return float(knee_neck_mm) / 9.2


def _alpha(cutoff: np.ndarray, dt: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + 1.0 / (2.0 * np.pi * cutoff * dt))


class OneEuroFilter:
    """Streaming 1-Euro filter over an array of points.

    Call with `(x, t)` once per frame: x (..., D) in any unit (the shape is fixed by the first
    call), t the frame's timestamp in seconds, strictly increasing. Returns the filtered array,
    same shape, float64.
    """

    def __init__(self, config: OneEuroConfig = OneEuroConfig()) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Forget all state (the next call starts afresh, any shape)."""
        self._shape: tuple[int, ...] | None = None
        self._t_last: float | None = None
        self._x: np.ndarray | None = None       # (..., D) filtered values
        self._dx: np.ndarray | None = None      # (..., D) filtered derivative
        self._t_seen: np.ndarray | None = None  # (...) time each point was last updated
        self._seen: np.ndarray | None = None    # (...) bool

    def __call__(self, x: np.ndarray, t: float, scale: float | None = None,
                 valid: np.ndarray | None = None) -> np.ndarray:
        """Filter one frame.

        Args:
            x: (..., D) values; NaN in a point marks it missing.
            t: timestamp in seconds, finite and greater than the previous call's.
            scale: length unit for speeds (> 0), e.g. `vnect_scale_3d(knee_neck)`; None = 1.
            valid: optional (...) bool mask, False = treat the point as missing.
        Returns:
            (..., D) filtered values (held / NaN for missing points, see module docstring).
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim < 1 or x.size == 0:
            raise ValueError(f"OneEuroFilter: expected a non-empty (..., D) array, got shape {x.shape}")
        if self._shape is not None and x.shape != self._shape:
            raise ValueError(f"OneEuroFilter: shape changed from {self._shape} to {x.shape}; "
                             "call reset() first")
        t = float(t)
        if not math.isfinite(t):
            raise ValueError(f"OneEuroFilter: timestamp must be finite, got {t}")
        if self._t_last is not None and t <= self._t_last:
            raise ValueError(f"OneEuroFilter: timestamps must increase strictly, got {t} after {self._t_last}")
        if scale is None:
            scale = 1.0
        elif not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"OneEuroFilter: scale must be finite and > 0, got {scale}")
        ok = np.all(np.isfinite(x), axis=-1)
        if valid is not None:
            valid = np.asarray(valid, dtype=bool)
            if valid.shape != x.shape[:-1]:
                raise ValueError(f"OneEuroFilter: valid must have shape {x.shape[:-1]}, got {valid.shape}")
            ok &= valid

        if self._shape is None:
            self._shape = x.shape
            self._x = np.full(x.shape, np.nan)
            self._dx = np.zeros(x.shape)
            self._t_seen = np.full(x.shape[:-1], -np.inf)
            self._seen = np.zeros(x.shape[:-1], dtype=bool)
        self._t_last = t

        cfg = self.config
        dt = t - self._t_seen                                   # (...) inf for unseen points
        fresh = ok & (~self._seen | (dt > cfg.max_gap))         # (re)start from the raw value
        step = ok & ~fresh
        if np.any(step):
            dts = np.where(step, dt, 1.0)[..., None]
            xs = np.where(step[..., None], x, self._x)
            dx = (xs - self._x) / dts
            dx_hat = self._dx + _alpha(cfg.d_cutoff, dts) * (dx - self._dx)
            speed = np.linalg.norm(dx_hat, axis=-1, keepdims=True) / scale
            cutoff = cfg.min_cutoff + cfg.beta * speed
            x_hat = self._x + _alpha(cutoff, dts) * (xs - self._x)
            self._x = np.where(step[..., None], x_hat, self._x)
            self._dx = np.where(step[..., None], dx_hat, self._dx)
        if np.any(fresh):
            self._x = np.where(fresh[..., None], x, self._x)
            self._dx = np.where(fresh[..., None], 0.0, self._dx)
        self._t_seen = np.where(ok, t, self._t_seen)
        self._seen |= ok
        return self._x.copy()
