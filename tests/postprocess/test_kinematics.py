"""The rig's conventions, forward kinematics and rotations read back from positions (the
rotations themselves: tests/movnect/test_rotations.py)."""
from __future__ import annotations

import numpy as np
import pytest

from movnect.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from movnect.skeleton import JOINT_NAMES, NUM_JOINTS, bone_lengths
from postprocess.kinematics import (
    LIMB_HINGES, LIMBS, REST_DIRECTIONS, Skeleton, forward_kinematics, global_to_local, rotations_from_positions,
    swing_rotation,
)
from tests.postprocess.synthetic import SKELETON, make_sequence, synthetic_motion


def test_swing_rotation_is_minimal_and_handles_opposites():
    x = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    y = np.array([[0, 1.0, 0], [0, -1.0, 0], [0, 0, 1.0]])
    r = swing_rotation(x, y)
    np.testing.assert_allclose((r @ x[..., None])[..., 0], y, atol=1e-12)
    np.testing.assert_allclose(r[0], axis_angle_to_matrix(np.array([0, 0, np.pi / 2])), atol=1e-12)
    np.testing.assert_allclose(r @ np.swapaxes(r, 1, 2), np.broadcast_to(np.eye(3), (3, 3, 3)), atol=1e-12)


def test_convention_rest_pose_faces_camera_upright_left_is_plus_x():
    rest = SKELETON.rest_pose
    name = {n: i for i, n in enumerate(JOINT_NAMES)}
    assert rest[name["head"], 1] < rest[name["root"], 1] < rest[name["left_foot"], 1]   # y down
    assert rest[name["left_hip"], 0] > 0 > rest[name["right_hip"], 0]                     # left = +x
    assert rest[name["left_wrist"], 0] > rest[name["left_elbow"], 0] > rest[name["left_shoulder"], 0]
    assert np.all(rest[:, 2] == 0.0)                                                        # T-pose plane
    np.testing.assert_allclose(bone_lengths(rest), SKELETON.bone_lengths)
    np.testing.assert_allclose(np.linalg.norm(REST_DIRECTIONS[1:], axis=1), 1.0)


def test_convention_knee_flexion_is_positive_about_x():
    local = np.broadcast_to(np.eye(3), (NUM_JOINTS, 3, 3)).copy()
    local[2] = axis_angle_to_matrix(np.array([np.pi / 2, 0, 0]))         # right knee +90 deg
    pos, _ = forward_kinematics(SKELETON.offsets, np.zeros(3), local)
    shank = pos[3] - pos[2]
    np.testing.assert_allclose(shank, [0, 0, SKELETON.bone_lengths[2]], atol=1e-9)   # backwards (+z)


def test_forward_kinematics_preserves_lengths_and_globals_invert():
    rng = np.random.default_rng(5)
    local = axis_angle_to_matrix(rng.normal(0, 1, (4, NUM_JOINTS, 3)))
    root = rng.normal(0, 500, (4, 3))
    pos, glob = forward_kinematics(SKELETON.offsets, root, local)
    np.testing.assert_allclose(bone_lengths(pos), np.broadcast_to(SKELETON.bone_lengths, (4, 16)), atol=1e-9)
    np.testing.assert_allclose(pos[:, 0], root)
    np.testing.assert_allclose(global_to_local(glob), local, atol=1e-12)


def test_rotations_from_positions_reproduce_positions_with_hinge_knees_and_elbows():
    seq = make_sequence(120, seed=6)
    gt, glob = seq["gt"], seq["global"]
    for i in range(0, 120, 7):
        derived = rotations_from_positions(gt[i], glob[i, 0], glob[i, 8])
        pos, _ = forward_kinematics(SKELETON.offsets, gt[i, 0], global_to_local(derived))
        np.testing.assert_allclose(pos, gt[i], atol=1e-8)
        local = global_to_local(derived)
        np.testing.assert_allclose(local[[3, 6, 10, 13, 16]], np.broadcast_to(np.eye(3), (5, 3, 3)), atol=1e-12)
        rv = matrix_to_axis_angle(local[LIMBS[:, 1]])                    # knees, elbows
        bend = np.linalg.norm(rv, axis=1)
        # the flexion axis is the rest hinge (knees +x, left elbow +y, right elbow -y), up to
        # the documented blend towards the swing axis: angle <= atan(0.17 / sin(bend))
        cos_to_hinge = (rv / np.maximum(bend[:, None], 1e-12) * LIMB_HINGES).sum(1)
        bound = np.cos(np.arctan(0.17 / np.sin(np.clip(bend, 1e-3, np.pi / 2))))
        assert np.all(cos_to_hinge[bend > 0.3] >= bound[bend > 0.3] - 1e-9)


def test_skeleton_rejects_bad_lengths():
    good = list(SKELETON.bone_lengths)
    for bad, msg in ((good[:15], "16 bone lengths"), (good[:3] + [0.0] + good[4:], r"\[4\]"),
                     (good[:5] + [float("nan")] + good[6:], r"\[6\]"), (good[:1] + [-5.0] + good[2:], r"\[2\]")):
        with pytest.raises(ValueError, match=msg):
            Skeleton.from_lengths(bad)
    assert SKELETON.knee_neck_length == pytest.approx((454 + 133) + 234 + 257 + 117)


def test_synthetic_motion_is_smooth_and_shaped():
    t = np.arange(90) / 30.0
    root, local = synthetic_motion(t, np.random.default_rng(7))
    assert root.shape == (90, 3) and local.shape == (90, NUM_JOINTS, 3, 3)
    np.testing.assert_allclose(local @ np.swapaxes(local, -1, -2), np.broadcast_to(np.eye(3), local.shape), atol=1e-12)
    assert np.abs(np.diff(root, axis=0)).max() < 60.0        # < 1.8 m/s at 30 fps
    with pytest.raises(ValueError, match="timestamps"):
        synthetic_motion(np.zeros((3, 2)), np.random.default_rng(0))


def test_shape_errors_name_the_shape():
    with pytest.raises(ValueError, match="batch shapes"):
        forward_kinematics(SKELETON.offsets, np.zeros((2, 3)), np.broadcast_to(np.eye(3), (NUM_JOINTS, 3, 3)))
