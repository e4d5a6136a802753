"""Metrics against hand-computed cases and an independent reference (scipy's Kabsch)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from movnect import metrics, skeleton


def _pose(rng: np.random.Generator, n: int = 1, j: int = 17) -> np.ndarray:
    return rng.normal(scale=300.0, size=(n, j, 3))


def _reference_pa(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Similarity alignment written differently: scipy's proper-rotation Kabsch, then the
    least-squares scale given that rotation, then the translation."""
    out = []
    for p, g in zip(pred, gt):
        pc, gc = p - p.mean(0), g - g.mean(0)
        rot, _ = Rotation.align_vectors(gc, pc)  # rotation taking pc onto gc, det +1
        rp = rot.apply(pc)
        s = float((rp * gc).sum() / (pc * pc).sum())
        out.append(np.linalg.norm(s * rp + g.mean(0) - g, axis=-1))
    return np.stack(out)


def test_mpjpe_hand_computed() -> None:
    gt = np.zeros((1, 3, 3))
    gt[0, 1] = [100, 0, 0]
    gt[0, 2] = [0, 100, 0]
    pred = gt.copy()
    pred[0, 1] += [30, 40, 0]           # 50 mm off
    pred += np.array([1000.0, -20, 5])  # a global offset is removed by the root alignment
    err = metrics.mpjpe_errors(pred, gt)
    np.testing.assert_allclose(err, [[0.0, 50.0, 0.0]], atol=1e-9)
    assert err.mean() == pytest.approx(50.0 / 3)


def test_pa_mpjpe_zero_for_similarity_copy() -> None:
    rng = np.random.default_rng(0)
    gt = _pose(rng, 5)
    rot = Rotation.random(5, random_state=1).as_matrix()
    scale = np.array([0.5, 1.0, 2.0, 3.3, 0.9])
    pred = scale[:, None, None] * np.einsum("nij,nkj->nki", rot, gt) + rng.normal(size=(5, 1, 3)) * 500
    assert metrics.pa_mpjpe_errors(pred, gt).max() < 1e-6
    assert metrics.mpjpe_errors(pred, gt).mean() > 50  # the unaligned error is large


def test_pa_mpjpe_mirrored_pose_is_not_zero() -> None:
    rng = np.random.default_rng(1)
    gt = _pose(rng, 3)
    mirrored = gt * np.array([-1.0, 1.0, 1.0])  # a reflection: no rotation reproduces it
    err = metrics.pa_mpjpe_errors(mirrored, gt)
    assert err.mean() > 10.0
    np.testing.assert_allclose(err, _reference_pa(mirrored, gt), atol=1e-6)


def test_pa_mpjpe_matches_independent_reference() -> None:
    rng = np.random.default_rng(2)
    gt = _pose(rng, 20)
    pred = gt + rng.normal(scale=60.0, size=gt.shape)
    pred = np.einsum("nij,nkj->nki", Rotation.random(20, random_state=3).as_matrix(), pred) * 1.3
    np.testing.assert_allclose(metrics.pa_mpjpe_errors(pred, gt), _reference_pa(pred, gt), atol=1e-6)
    # Alignment can only help: PA-MPJPE <= error of the best scale alone <= ... of the raw pose
    # is not guaranteed per joint, but the summed squared error is.
    pa = metrics.pa_mpjpe_errors(pred, gt)
    n = metrics.n_mpjpe_errors(pred, gt)
    assert ((pa**2).sum(1) <= (n**2).sum(1) + 1e-6).all()


def test_n_mpjpe_of_scaled_pose_is_zero_and_scale_is_hand_computed() -> None:
    rng = np.random.default_rng(4)
    gt = _pose(rng, 4)
    pred = 0.8 * gt + 123.0  # scaled about the origin then shifted
    np.testing.assert_allclose(metrics.optimal_scale(pred, gt), 1.25, rtol=1e-12)
    assert metrics.n_mpjpe_errors(pred, gt).max() < 1e-9
    # A rotated pose is not fixed by scale alone.
    rot = Rotation.from_euler("y", 90, degrees=True).as_matrix()
    assert metrics.n_mpjpe_errors(gt @ rot.T, gt).mean() > 50


def test_n_mpjpe_hand_computed_two_joints() -> None:
    gt = np.array([[[0, 0, 0], [100, 0, 0]]], dtype=float)
    pred = np.array([[[0, 0, 0], [0, 100, 0]]], dtype=float)
    # <p, g> = 0 -> s = 0 -> the joint error is |g| = 100.
    np.testing.assert_allclose(metrics.n_mpjpe_errors(pred, gt), [[0.0, 100.0]])


def test_pck_and_auc_hand_computed() -> None:
    errors = np.array([[0.0, 10.0, 149.9, 150.0]])
    assert metrics.pck(errors) == pytest.approx(75.0)  # strict: 150 itself is a miss
    # thresholds 0..150 step 5: 0 counts 0 joints (strict), 5 and 10 count 1, 15..145 count 2,
    # 150 counts 3 -> mean of the counts / 4 joints.
    counts = [0, 1, 1] + [2] * 27 + [3]
    assert len(counts) == len(metrics.AUC_THRESHOLDS_MM) == 31
    assert metrics.auc(errors) == pytest.approx(100.0 * np.mean(counts) / 4)


def test_group_means() -> None:
    errors = np.array([[1.0, 3.0], [10.0, 10.0], [5.0, 7.0]])
    out = metrics.group_means(errors, np.array([2, 0, 2]))
    assert out == {0: (10.0, 1), 2: (4.0, 2)}


@pytest.mark.parametrize("bad", [np.zeros((2, 17, 2)), np.zeros((17, 3)), np.zeros((3, 17, 3))])
def test_shape_errors_name_the_shapes(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"\(N, J, 3\)"):
        metrics.pa_mpjpe_errors(bad, np.zeros((2, 17, 3)))


def _standing(facing_camera: bool) -> np.ndarray:
    """An upright person (y down), hips 200 mm and shoulders 300 mm wide; facing the camera puts
    their left side at +x (the image's right)."""
    j = np.zeros((skeleton.NUM_JOINTS, 3))
    side = 1.0 if facing_camera else -1.0
    for name, x, y in (("left_hip", 100, 0), ("right_hip", -100, 0), ("left_shoulder", 150, -500),
                       ("right_shoulder", -150, -500), ("thorax", 0, -500), ("head", 0, -700)):
        j[skeleton.JOINT_NAMES.index(name)] = [side * x, y, 0.0]
    return j


def test_lateral_width_hand_computed() -> None:
    poses = np.stack([_standing(True), _standing(False)])
    # left mean x (100 + 150) / 2 = 125, right mean x -125: width 250 mm, negative from behind
    np.testing.assert_allclose(metrics.lateral_width(poses), [250.0, -250.0])


def test_facing_agreement_counts_front_back_swaps_and_skips_side_on_poses() -> None:
    front, back = _standing(True), _standing(False)
    side = front.copy()
    side[:, 0] *= 0.2  # width 50 mm: side-on, not counted
    gt = np.stack([front, back, back, side])
    pred = np.stack([front, front, back, back])  # one of the three counted poses called frontal wrongly
    share, n = metrics.facing_agreement(pred, gt)
    assert n == 3
    assert share == pytest.approx(200.0 / 3.0)
    assert metrics.facing_agreement(pred[3:], gt[3:]) == (None, 0)
    # a rotation by 180 degrees about the vertical axis turns every frontal pose into a back view
    turned = gt * np.array([-1.0, 1.0, -1.0])
    assert metrics.facing_agreement(turned, gt) == (0.0, 3)
    with pytest.raises(ValueError, match=r"\(N, 17, 3\)"):
        metrics.lateral_width(np.zeros((2, 16, 3)))
