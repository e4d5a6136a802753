"""Generated fixtures for the post-processing tests: a moving rig seen by a camera, with noise.

Never Human3.6M data: lengths are those of an average Human3.6M subject, the motion is the
sum-of-sinusoids generator of postprocess.kinematics.
"""
from __future__ import annotations

import numpy as np

from movnect.camera import Intrinsics, project
from postprocess.kinematics import Skeleton, forward_kinematics, synthetic_motion

LENGTHS = (133.0, 454.0, 446.0, 133.0, 454.0, 446.0, 234.0, 257.0, 117.0, 115.0, 151.0,
           279.0, 249.0, 151.0, 279.0, 249.0)
SKELETON = Skeleton(LENGTHS)
CAMERA = Intrinsics((1145.0, 1144.0), (512.0, 515.0), width=1000, height=1000)


def make_sequence(frames: int, seed: int = 0, noise2d: float = 0.0, noise3d: float = 0.0,
                  drop: float = 0.0, fps: float = 30.0, camera: Intrinsics = CAMERA) -> dict:
    """Ground truth (gt: (T, 17, 3) camera mm) and observations k (px), x (root-relative mm), conf."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    root, local = synthetic_motion(t, rng)
    gt, glob = forward_kinematics(SKELETON.offsets, root, local)
    k = project(gt, camera) + rng.normal(0.0, noise2d, (frames, 17, 2))
    x = gt - gt[:, :1] + rng.normal(0.0, noise3d, (frames, 17, 3))
    x[:, 0] = 0.0
    conf = rng.uniform(0.6, 1.0, (frames, 17))
    dropped = rng.random((frames, 17)) < drop
    dropped[:, 0] = False
    k[dropped], x[dropped], conf[dropped] = np.nan, np.nan, 0.0
    return {"t": t, "gt": gt, "local": local, "global": glob, "k": k, "x": x, "conf": conf}


def accel_error(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean per-joint acceleration error (second differences, root-relative), mm / frame^2."""
    def acc(p):
        return p[2:] - 2.0 * p[1:-1] + p[:-2]
    rel_p, rel_g = pred - pred[:, :1], gt - gt[:, :1]
    return float(np.nanmean(np.linalg.norm(acc(rel_p) - acc(rel_g), axis=-1)))


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Root-relative mean per-joint position error, mm (NaN entries skipped)."""
    return float(np.nanmean(np.linalg.norm((pred - pred[:, :1]) - (gt - gt[:, :1]), axis=-1)))
