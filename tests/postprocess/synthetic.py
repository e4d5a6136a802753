"""Generated fixtures for the post-processing tests: a moving rig seen by a camera, with noise.

Never Human3.6M data: lengths are those of an average Human3.6M subject, the motion is the
sum-of-sinusoids generator below (`synthetic_motion`). bench/postprocess_quality.py loads this
file too, so the benchmark measures the sequences the tests check.
"""
from __future__ import annotations

import numpy as np

from movnect.camera import Intrinsics, project
from movnect.rotations import axis_angle_to_matrix
from movnect.skeleton import NUM_JOINTS
from postprocess.kinematics import Skeleton, forward_kinematics

LENGTHS = (133.0, 454.0, 446.0, 133.0, 454.0, 446.0, 234.0, 257.0, 117.0, 115.0, 151.0,
           279.0, 249.0, 151.0, 279.0, 249.0)
SKELETON = Skeleton(LENGTHS)
CAMERA = Intrinsics((1145.0, 1144.0), (512.0, 515.0), width=1000, height=1000)


def synthetic_motion(
    timestamps: np.ndarray, rng: np.random.Generator, depth_mm: float = 4500.0,
    amplitude: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Smooth random motion of the 17-joint rig: sums of sinusoids on joint angles.

    Arms hang about 60 degrees below the T-pose, knees and elbows bend one way only (hinges),
    the body turns +-35 degrees about the vertical and wanders about 0.5 m in front of the
    camera (under 1 m/s). Joint-angle frequencies 0.1-1 Hz: everyday motion, not sport.

    Args:
        timestamps: (T,) seconds, increasing.
        rng: source of the random amplitudes, frequencies and phases.
        depth_mm: mean pelvis depth in front of the camera.
        amplitude: multiplier on all joint-angle amplitudes.
    Returns:
        root positions (T, 3) mm (camera frame) and local rotations (T, 17, 3, 3).
    """
    t = np.asarray(timestamps, dtype=np.float64)
    if t.ndim != 1 or t.size < 1:
        raise ValueError(f"synthetic_motion: expected (T,) timestamps, got shape {t.shape}")

    def wave(amp: float, n: int = 2, f_max: float = 1.0) -> np.ndarray:
        f = rng.uniform(0.1 * f_max, f_max, n)
        ph = rng.uniform(0, 2 * np.pi, n)
        a = rng.uniform(0.5, 1.0, n) * amp / n
        return (a[None] * np.sin(2 * np.pi * f[None] * t[:, None] + ph[None])).sum(-1)

    amp = amplitude
    rv = np.zeros((t.size, NUM_JOINTS, 3))
    rv[:, 0] = np.stack([wave(0.15 * amp), wave(0.6 * amp), wave(0.1 * amp)], -1)  # root
    for hip, knee in ((1, 2), (4, 5)):
        rv[:, hip] = np.stack([wave(0.6 * amp), wave(0.15 * amp), wave(0.2 * amp)], -1)
        rv[:, knee, 0] = 0.5 * amp + wave(0.5 * amp)          # flexion >= 0 (hinge about x)
    for j in (7, 8):
        rv[:, j] = np.stack([wave(0.15 * amp), wave(0.2 * amp), wave(0.1 * amp)], -1)
    rv[:, 9] = np.stack([wave(0.3 * amp), wave(0.3 * amp), wave(0.2 * amp)], -1)
    for sh, el, side in ((11, 12, 1.0), (14, 15, -1.0)):
        rv[:, sh] = np.stack([wave(0.5 * amp), wave(0.6 * amp), side * (1.0 + wave(0.5 * amp))], -1)
        rv[:, el, 1] = side * (0.8 * amp + wave(0.7 * amp))   # flexion towards the front
    rv[:, (2, 5, 12), (0, 0, 1)] = np.clip(rv[:, (2, 5, 12), (0, 0, 1)], 0.0, 2.5)   # hinges
    rv[:, 15, 1] = np.clip(rv[:, 15, 1], -2.5, 0.0)
    local = axis_angle_to_matrix(rv)
    root = np.stack([wave(400.0, f_max=0.3), 100.0 + wave(40.0), depth_mm + wave(500.0, f_max=0.3)], -1)
    return root, local


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
