"""Rotations: axis-angle, quaternions and matrices, converted both ways; cross products.

Conventions (pinned by tests/movnect/test_rotations.py):
  * Quaternions are (w, x, y, z), unit norm; `matrix_to_quaternion` returns w >= 0.
  * Axis-angle (rotation vector) = unit axis * angle in radians, angle in [0, pi].
  * A rotation matrix R acts on column vectors: v' = R @ v.
Every function takes batches (..., n) over the leading axes, float64, and raises ValueError naming
the shape it got. The camera (Human3.6M orientations) and the kinematic rig (postprocess) share
these; nothing here knows about either.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "cross", "skew", "axis_angle_to_matrix", "matrix_to_quaternion", "quaternion_to_matrix",
    "quaternion_to_axis_angle", "axis_angle_to_quaternion", "matrix_to_axis_angle", "quaternion_multiply",
]


def _check(x: np.ndarray, tail: tuple[int, ...], name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < len(tail) or x.shape[x.ndim - len(tail):] != tail:
        raise ValueError(f"{name}: expected shape (..., {', '.join(map(str, tail))}), got {x.shape}")
    return x


_I1, _I2 = np.array([1, 2, 0]), np.array([2, 0, 1])


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a x b over the last axis of (..., 3) arrays (np.cross without its ~50 us overhead)."""
    return a[..., _I1] * b[..., _I2] - a[..., _I2] * b[..., _I1]


_SKEW = np.array([[0, 0, 0], [0, 0, -1], [0, 1, 0], [0, 0, 1], [0, 0, 0], [-1, 0, 0],
                  [0, -1, 0], [1, 0, 0], [0, 0, 0]], dtype=np.float64)   # vec(skew(v)) = _SKEW @ v


def skew(v: np.ndarray) -> np.ndarray:
    """Cross-product matrices: (..., 3) -> (..., 3, 3) with skew(a) @ b = a x b."""
    v = _check(v, (3,), "skew")
    return (v @ _SKEW.T).reshape(v.shape[:-1] + (3, 3))


def axis_angle_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """Rodrigues' formula, (..., 3) radians -> (..., 3, 3); stable near 0 (half-angle form)."""
    rotvec = _check(rotvec, (3,), "axis_angle_to_matrix")
    theta = np.maximum(np.sqrt((rotvec * rotvec).sum(-1)), 1e-30)[..., None, None]
    half = np.sin(theta / 2.0) / theta                       # 1 - cos t = 2 sin^2(t / 2)
    k = skew(rotvec)
    return np.eye(3) + (np.sin(theta) / theta) * k + (2.0 * half * half) * (k @ k)


def matrix_to_quaternion(r: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) -> unit quaternions (..., 4) (w, x, y, z), w >= 0.

    Uses the largest of the four candidate denominators (Shepperd), so it is stable for every
    rotation, 180-degree turns included.
    """
    r = _check(r, (3, 3), "matrix_to_quaternion")
    m00, m11, m22 = r[..., 0, 0], r[..., 1, 1], r[..., 2, 2]
    cand = np.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22,
                     1 - m00 + m11 - m22, 1 - m00 - m11 + m22], axis=-1)
    best = np.argmax(cand, axis=-1)
    s = np.sqrt(np.maximum(np.take_along_axis(cand, best[..., None], -1)[..., 0], 1e-300)) * 2.0
    d21, d02, d10 = r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] - r[..., 0, 1]
    s21, s02, s10 = r[..., 2, 1] + r[..., 1, 2], r[..., 0, 2] + r[..., 2, 0], r[..., 1, 0] + r[..., 0, 1]
    q = np.stack([
        np.stack([s / 4, d21 / s, d02 / s, d10 / s], -1),
        np.stack([d21 / s, s / 4, s10 / s, s02 / s], -1),
        np.stack([d02 / s, s10 / s, s / 4, s21 / s], -1),
        np.stack([d10 / s, s02 / s, s21 / s, s / 4], -1),
    ], axis=-2)
    q = np.take_along_axis(q, best[..., None, None], axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def quaternion_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """Quaternions (..., 4) (w, x, y, z) -> rotation vectors (..., 3), angle in [0, pi]."""
    q = _check(q, (4,), "quaternion_to_axis_angle")
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(norm < 1e-12):
        raise ValueError("quaternion_to_axis_angle: zero-norm quaternion")
    q = q / norm
    q = np.where(q[..., :1] < 0, -q, q)
    s = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., :1])
    small = s < 1e-8
    scale = np.where(small, 2.0 / np.maximum(q[..., :1], 1e-12), angle / np.where(small, 1.0, s))
    return q[..., 1:] * scale


def axis_angle_to_quaternion(rotvec: np.ndarray) -> np.ndarray:
    """Rotation vectors (..., 3) -> unit quaternions (..., 4) (w, x, y, z)."""
    rotvec = _check(rotvec, (3,), "axis_angle_to_quaternion")
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    half = angle / 2.0
    small = angle < 1e-8
    k = np.where(small, 0.5 - angle**2 / 48.0, np.sin(half) / np.where(small, 1.0, angle))
    return np.concatenate([np.cos(half), rotvec * k], axis=-1)


def matrix_to_axis_angle(r: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) -> rotation vectors (..., 3) (via the quaternion)."""
    return quaternion_to_axis_angle(matrix_to_quaternion(r))


def quaternion_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b of (..., 4) quaternions (w, x, y, z): rotate by b, then by a."""
    a, b = _check(a, (4,), "quaternion_multiply a"), _check(b, (4,), "quaternion_multiply b")
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrix of a quaternion.

    Args:
        q: (..., 4) quaternion (w, x, y, z); normalised here.
    Returns:
        (..., 3, 3) rotation matrix R with R @ v rotating v by q.
    """
    q = _check(q, (4,), "quaternion")
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(norm < 1e-12):
        raise ValueError("quaternion: zero-norm quaternion")
    w, x, y, z = np.moveaxis(q / norm, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=-2,
    )
