"""Rotations (movnect.rotations) against scipy as an independent reference, hand-computed
cases, round trips and shape errors."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from movnect.rotations import (
    axis_angle_to_matrix, axis_angle_to_quaternion, cross, matrix_to_axis_angle, matrix_to_quaternion,
    quaternion_multiply, quaternion_to_axis_angle, quaternion_to_matrix, skew,
)


def _rotvecs(n=500, seed=0):
    rng = np.random.default_rng(seed)
    axes = rng.normal(size=(n, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = np.concatenate([rng.uniform(0, np.pi, n - 4), [0.0, 1e-10, np.pi - 1e-9, np.pi]])
    return axes * angles[:, None]


def test_rotations_match_scipy():
    rv = _rotvecs()
    ref = Rotation.from_rotvec(rv)
    np.testing.assert_allclose(axis_angle_to_matrix(rv), ref.as_matrix(), atol=1e-12)
    q = matrix_to_quaternion(ref.as_matrix())
    q_ref = ref.as_quat()[:, [3, 0, 1, 2]]
    q_ref *= np.where(q_ref[:, :1] < 0, -1.0, 1.0)
    close = np.minimum(np.abs(q - q_ref).max(1), np.abs(q + q_ref).max(1))   # w = 0: sign free
    assert close.max() < 1e-9 and (q[:, 0] >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-12)


def test_round_trips():
    rv = _rotvecs(seed=1)
    r = axis_angle_to_matrix(rv)
    np.testing.assert_allclose(quaternion_to_matrix(matrix_to_quaternion(r)), r, atol=1e-12)
    np.testing.assert_allclose(axis_angle_to_matrix(matrix_to_axis_angle(r)), r, atol=1e-9)
    np.testing.assert_allclose(quaternion_to_matrix(axis_angle_to_quaternion(rv)), r, atol=1e-12)
    q = axis_angle_to_quaternion(rv)
    np.testing.assert_allclose(axis_angle_to_matrix(quaternion_to_axis_angle(q)), r, atol=1e-9)
    np.testing.assert_allclose(quaternion_to_axis_angle(axis_angle_to_quaternion(rv[:-3])), rv[:-3], atol=1e-9)


def test_quaternion_product_composes_rotations_and_hand_values():
    q, p = axis_angle_to_quaternion(_rotvecs(50, 2)), axis_angle_to_quaternion(_rotvecs(50, 3))
    np.testing.assert_allclose(quaternion_to_matrix(quaternion_multiply(q, p)),
                               quaternion_to_matrix(q) @ quaternion_to_matrix(p), atol=1e-12)
    qz90 = axis_angle_to_quaternion(np.array([0.0, 0.0, np.pi / 2]))
    np.testing.assert_allclose(qz90, [np.sqrt(0.5), 0, 0, np.sqrt(0.5)], atol=1e-15)
    np.testing.assert_allclose(quaternion_to_matrix(qz90) @ [1.0, 0, 0], [0, 1.0, 0], atol=1e-15)


def test_skew_and_cross():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    np.testing.assert_allclose(cross(a, b), np.cross(a, b), atol=1e-14)
    np.testing.assert_allclose((skew(a) @ b[..., None])[..., 0], np.cross(a, b), atol=1e-14)


def test_quaternion_to_matrix_hand_computed_and_orthonormal():
    np.testing.assert_allclose(quaternion_to_matrix(np.array([1.0, 0, 0, 0])), np.eye(3))
    s = np.sqrt(0.5)  # 90 degrees about z: x -> y
    r = quaternion_to_matrix(np.array([s, 0, 0, s]))
    np.testing.assert_allclose(r @ np.array([1.0, 0, 0]), [0, 1, 0], atol=1e-12)
    q = np.random.default_rng(3).normal(size=(10, 4))
    rs = quaternion_to_matrix(q)
    np.testing.assert_allclose(rs @ np.swapaxes(rs, -1, -2), np.broadcast_to(np.eye(3), (10, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rs), 1.0)
    with pytest.raises(ValueError, match="zero-norm"):
        quaternion_to_matrix(np.zeros(4))


def test_shape_errors_name_the_shape():
    with pytest.raises(ValueError, match=r"\(5, 2\)"):
        axis_angle_to_matrix(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="zero-norm"):
        quaternion_to_axis_angle(np.zeros(4))
    with pytest.raises(ValueError, match=r"quaternion: expected shape \(\.\.\., 4\), got \(3,\)"):
        quaternion_to_matrix(np.zeros(3))
    with pytest.raises(ValueError, match=r"matrix_to_quaternion: .*got \(3, 2\)"):
        matrix_to_quaternion(np.zeros((3, 2)))
