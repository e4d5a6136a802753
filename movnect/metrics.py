"""3D pose metrics with the alignments papers use (numpy, float64 inside).

All functions take predictions and ground truth as (N, J, 3) arrays in millimetres, camera
axes, and return per-joint errors (N, J) in millimetres, so callers can average per action,
per joint or over everything. The alignments (docs/training.md, Evaluation):

  * MPJPE (a.k.a. protocol 1): subtract the root joint (pelvis, index 0) from both poses.
  * PA-MPJPE (protocol 2): align each prediction to its ground truth with the similarity
    transform (rotation without reflection, uniform scale, translation) that minimises the
    squared error (Umeyama 1991), over all J joints.
  * N-MPJPE (Rhodin et al. 2018): root-relative poses, prediction scaled by the optimal
    uniform factor s = sum<p, g> / sum<p, p> (no rotation).

3DPCK and AUC follow the MPI-INF-3DHP scripts: a joint is correct if its error is strictly
below the threshold (150 mm); AUC is the mean of the PCK over 0, 5, ..., 150 mm (31 values).
Both are percentages here.

Front/back agreement (`facing_agreement`): the share of clearly frontal or clearly from-behind
poses whose prediction puts the person's left side on the same side of the image as the ground
truth does (a model that calls every person frontal scores the frontal share of the data).
"""
from __future__ import annotations

import numpy as np

from movnect import skeleton

PCK_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM = np.arange(0.0, 150.0 + 1e-9, 5.0)  # 31 values


def _check_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.ndim != 3 or pred.shape[-1] != 3 or pred.shape != gt.shape:
        raise ValueError(
            f"expected prediction and ground truth of the same shape (N, J, 3), got {pred.shape} and {gt.shape}"
        )
    return pred, gt


def root_relative(joints: np.ndarray, root: int = skeleton.ROOT) -> np.ndarray:
    """(N, J, 3) -> (N, J, 3) with joint `root` subtracted."""
    return joints - joints[:, root : root + 1]


def mpjpe_errors(pred: np.ndarray, gt: np.ndarray, root: int = skeleton.ROOT) -> np.ndarray:
    """Per-joint Euclidean error after root alignment: (N, J, 3) x2 mm -> (N, J) mm."""
    pred, gt = _check_pair(pred, gt)
    return np.linalg.norm(root_relative(pred, root) - root_relative(gt, root), axis=-1)


def similarity_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Each pred aligned to its gt by the least-squares similarity transform s R p + t.

    R is a proper rotation (det +1, never a reflection), s a positive uniform scale.
    Args:
        pred, gt: (N, J, 3), same unit.
    Returns:
        (N, J, 3) aligned predictions, gt's unit.
    """
    pred, gt = _check_pair(pred, gt)
    mu_p = pred.mean(axis=1, keepdims=True)
    mu_g = gt.mean(axis=1, keepdims=True)
    x = pred - mu_p
    y = gt - mu_g
    # Cross-covariance M = sum_i y_i x_i^T; the best rotation is U D V^T of M = U S V^T.
    m = np.einsum("nji,njk->nik", y, x)
    u, s, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))
    d = np.where(d == 0, 1.0, d)
    corr = np.ones((len(pred), 3))
    corr[:, 2] = d
    rot = np.einsum("nij,nj,njk->nik", u, corr, vt)
    var_x = (x**2).sum(axis=(1, 2))
    scale = (s * corr).sum(axis=1) / np.maximum(var_x, 1e-12)
    return scale[:, None, None] * np.einsum("nij,nkj->nki", rot, x) + mu_g


def pa_mpjpe_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-joint error after similarity (Procrustes) alignment: (N, J, 3) x2 -> (N, J) mm."""
    pred, gt = _check_pair(pred, gt)
    return np.linalg.norm(similarity_align(pred, gt) - gt, axis=-1)


def optimal_scale(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """s = sum<p, g> / sum<p, p> per sample on root-relative poses: (N, J, 3) x2 -> (N,)."""
    pred, gt = _check_pair(pred, gt)
    p, g = root_relative(pred), root_relative(gt)
    return (p * g).sum(axis=(1, 2)) / np.maximum((p * p).sum(axis=(1, 2)), 1e-12)


def n_mpjpe_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-joint error after root alignment and the optimal uniform scale: -> (N, J) mm."""
    pred, gt = _check_pair(pred, gt)
    s = optimal_scale(pred, gt)
    return np.linalg.norm(s[:, None, None] * root_relative(pred) - root_relative(gt), axis=-1)


def pck(errors: np.ndarray, threshold: float = PCK_THRESHOLD_MM) -> float:
    """Percentage of joint errors strictly below `threshold` (same unit as errors)."""
    errors = np.asarray(errors, dtype=np.float64)
    if errors.size == 0:
        raise ValueError("pck: no errors given (shape {})".format(errors.shape))
    return float(100.0 * (errors < threshold).mean())


def auc(errors: np.ndarray, thresholds: np.ndarray = AUC_THRESHOLDS_MM) -> float:
    """Mean PCK (percent) over `thresholds` (default 0, 5, ..., 150 mm)."""
    return float(np.mean([pck(errors, float(t)) for t in thresholds]))


def group_means(errors: np.ndarray, groups: np.ndarray) -> dict[int, tuple[float, int]]:
    """Mean error per group id: errors (N, J), groups (N,) int -> {group: (mean mm, frames)}."""
    errors = np.asarray(errors, dtype=np.float64)
    groups = np.asarray(groups)
    if errors.ndim != 2 or groups.shape != errors.shape[:1]:
        raise ValueError(f"expected errors (N, J) and groups (N,), got {errors.shape} and {groups.shape}")
    return {int(g): (float(errors[groups == g].mean()), int((groups == g).sum())) for g in np.unique(groups)}


FACING_MIN_WIDTH_MM = 100.0  # hip/shoulder width across the image below which a pose counts as side-on
_LEFT_TRUNK = [skeleton.JOINT_NAMES.index(n) for n in ("left_hip", "left_shoulder")]
_RIGHT_TRUNK = [skeleton.JOINT_NAMES.index(n) for n in ("right_hip", "right_shoulder")]


def lateral_width(joints: np.ndarray) -> np.ndarray:
    """Signed width of the body across the image: (N, J, 3) camera-axes joints (x right) -> (N,)
    mm, the mean x of the left hip and shoulder minus that of the right ones. Positive: the
    person's left side is on the image's right, i.e. an upright person faces the camera;
    negative: seen from behind; near 0: side-on."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1] != skeleton.NUM_JOINTS or joints.shape[2] < 2:
        raise ValueError(f"expected joints (N, {skeleton.NUM_JOINTS}, 3), got {joints.shape}")
    return joints[:, _LEFT_TRUNK, 0].mean(-1) - joints[:, _RIGHT_TRUNK, 0].mean(-1)


def facing_agreement(pred: np.ndarray, gt: np.ndarray, min_width_mm: float = FACING_MIN_WIDTH_MM
                     ) -> tuple[float | None, int]:
    """Front/back agreement: over the poses whose ground truth is clearly frontal or clearly seen
    from behind (|lateral_width(gt)| >= min_width_mm), the percentage whose prediction has the
    same sign of `lateral_width` (a model that calls everyone frontal scores the frontal share).
    (N, J, 3) x2 -> (percent or None when no pose qualifies, poses counted)."""
    pred, gt = _check_pair(pred, gt)
    wp, wg = lateral_width(pred), lateral_width(gt)
    sel = np.abs(wg) >= min_width_mm
    if not sel.any():
        return None, 0
    return float(100.0 * np.mean(np.sign(wp[sel]) == np.sign(wg[sel]))), int(sel.sum())
