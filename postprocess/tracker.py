"""Box tracker: the next frame's square crop from the current frame's 2D joints.

The box is the extent of the confident joints, padded by `pad_x` times the extent's width on
EACH side horizontally and `pad_y` times its height above and below. The crop is the square of
side max(padded width, padded height, min_side) centred on the padded extent (the model
wants square crops, movnect.camera.CropBox).

The default padding, 0.2 on every side, reproduces the framing of the training crops
(movnect.data.h36m.person_box with margin 0.2: side = 1.4 x the larger extent). The framing
must match: a model predicts joints where a training-framed person would be, so a tighter box
(VNect's public port pads 0.4 x width but only 0.1 x height) makes it report a body that
fills the crop, the next box shrinks again, and the box collapses onto the torso. Measured on
the sample clip with the default model (bench/tracking.py): box side / training-framed side
of the true joints, median 0.62 with 0.4/0.1 and 0.93 with 0.2/0.2; 2D joint error median 17.1
and 10.3 px.

Centre and side are smoothed over time with a 1-Euro filter whose speed unit is the box side
(so the same settings work for near and far people). With fewer than `min_joints` joints at
or above `min_confidence` the previous box is kept unchanged (the person is lost or
occluded); the first confident frame after that restarts the smoothing if the gap exceeds
the filter's max_gap.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from movnect.camera import CropBox
from postprocess.one_euro import OneEuroConfig, OneEuroFilter

__all__ = ["TrackerConfig", "BoxTracker", "box_from_joints"]


@dataclass(frozen=True)
class TrackerConfig:
    pad_x: float = 0.2          # fraction of the joints' width added on each side
    pad_y: float = 0.2          # fraction of the joints' height added above and below
    min_confidence: float = 0.3
    min_joints: int = 5
    min_side: float = 32.0      # pixels
    smoothing: OneEuroConfig = field(default_factory=lambda: OneEuroConfig(min_cutoff=1.5, beta=2.0, d_cutoff=1.0))

    def __post_init__(self) -> None:
        if self.pad_x < 0 or self.pad_y < 0 or self.min_side <= 0 or self.min_joints < 2:
            raise ValueError(f"TrackerConfig: pads must be >= 0, min_side > 0, min_joints >= 2; got {self}")


def box_from_joints(joints2d: np.ndarray, confidence: np.ndarray | None,
                    config: TrackerConfig = TrackerConfig()) -> CropBox | None:
    """The padded square box around confident joints, or None if too few are confident.

    Args:
        joints2d: (J, 2) image pixels; NaN = missing.
        confidence: (J,) or None (all confident).
    """
    k = np.asarray(joints2d, dtype=np.float64)
    if k.ndim != 2 or k.shape[1] != 2:
        raise ValueError(f"box_from_joints: expected (J, 2) joints, got shape {k.shape}")
    c = np.ones(len(k)) if confidence is None else np.asarray(confidence, dtype=np.float64)
    if c.shape != (len(k),):
        raise ValueError(f"box_from_joints: expected confidence ({len(k)},), got {c.shape}")
    ok = np.isfinite(k).all(-1) & np.isfinite(c) & (c >= config.min_confidence)
    if np.count_nonzero(ok) < config.min_joints:
        return None
    lo, hi = k[ok].min(0), k[ok].max(0)
    w, h = hi - lo
    x0, x1 = lo[0] - config.pad_x * w, hi[0] + config.pad_x * w
    y0, y1 = lo[1] - config.pad_y * h, hi[1] + config.pad_y * h
    side = max(x1 - x0, y1 - y0, config.min_side)
    return CropBox.around(((x0 + x1) / 2.0, (y0 + y1) / 2.0), side)


class BoxTracker:
    """Follows one person: `update` with each frame's joints returns the next frame's box."""

    def __init__(self, initial: CropBox, config: TrackerConfig = TrackerConfig()) -> None:
        self.config = config
        self.initial = initial
        self.reset()

    def reset(self) -> None:
        self.box = self.initial
        self._filter = OneEuroFilter(self.config.smoothing)
        self._t: float | None = None

    def update(self, joints2d: np.ndarray, confidence: np.ndarray | None, t: float) -> CropBox:
        """Propose the crop for the next frame.

        Args:
            joints2d: (J, 2) joints of this frame in image pixels.
            confidence: (J,) or None.
            t: this frame's timestamp, seconds, strictly increasing.
        Returns:
            the new box (also stored as `self.box`); the previous one when confidence is low.
        """
        t = float(t)
        if not np.isfinite(t) or (self._t is not None and t <= self._t):
            raise ValueError(f"BoxTracker.update: timestamps must increase strictly, got {t} after {self._t}")
        self._t = t
        target = box_from_joints(joints2d, confidence, self.config)
        if target is None:
            return self.box
        cx, cy = target.center
        state = np.array([[cx], [cy], [target.side]])
        smooth = self._filter(state, t, scale=max(self.box.side, self.config.min_side))[:, 0]
        self.box = CropBox.around((smooth[0], smooth[1]), max(float(smooth[2]), self.config.min_side))
        return self.box
