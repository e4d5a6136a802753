"""Distillation losses: MoVNect/FPD mimicry, DWPose feature/logit/location, OKDHP ensemble terms.

Normalisation follows movnect.train.losses: a squared-error term is summed over the pixels of
one joint's map (and over the X, Y, Z maps of that joint) and averaged over batch x joints, so
distillation terms and supervised terms have the same scale and do not depend on the map size.
Shapes: heatmaps (B, J, h, w); location maps (B, 3J, h, w) = [X (J), Y (J), Z (J)] in the
codec's location unit; mask2d (B, J) and has3d (B,) in {0, 1}.

Teacher (or ensemble) targets are detached inside every function: no gradient ever reaches a
teacher through these losses. Masks built from predicted heatmaps are clamped to [0, 1] (a
network's heatmap may dip below 0 or overshoot 1) and detached.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _check(name: str, t: Tensor, shape: tuple[int, ...]) -> None:
    if tuple(t.shape) != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {tuple(t.shape)}")


def _check_heat(name: str, t: Tensor) -> None:
    if t.ndim != 4:
        raise ValueError(f"{name}: expected heatmaps (B, J, h, w), got {tuple(t.shape)}")


def _per_joint_location(diff: Tensor, mask: Tensor) -> Tensor:
    """|| mask_j (.) diff ||^2 summed over pixels and the 3 axes: (B, 3J, h, w), (B, J, h, w) -> (B, J)."""
    b, j, h, w = mask.shape
    d = diff.reshape(b, 3, j, h, w) * mask[:, None]
    return (d**2).sum(dim=(1, 3, 4))


def mask_from_heatmaps(heat: Tensor) -> Tensor:
    """A predicted heatmap used as a location-map mask: clamp to [0, 1], detached. Same shape."""
    return heat.detach().clamp(0.0, 1.0)


# ---- MoVNect / Fast Pose Distillation mimicry ----------------------------------------------

def mimicry_heatmap_loss(heat_s: Tensor, heat_gt: Tensor, heat_t: Tensor, mask2d: Tensor,
                         alpha: float) -> Tensor:
    """L_HM = alpha ||H_S - H_GT||^2 + (1 - alpha) ||H_S - H_T||^2 per labelled joint.

    Joints without a 2D label (mask2d = 0) are supervised by the teacher alone, with weight 1
    (so an unlabelled joint weighs as much as a labelled one).

    Args:
        heat_s, heat_gt, heat_t: (B, J, h, w) student, ground-truth and teacher heatmaps.
        mask2d: (B, J) 1 where the 2D label exists.
        alpha: weight of the ground-truth term, in [0, 1].
    Returns:
        scalar, per-map sums averaged over B * J.
    """
    _check_heat("student heatmaps", heat_s)
    b, j = heat_s.shape[:2]
    _check("ground-truth heatmaps", heat_gt, tuple(heat_s.shape))
    _check("teacher heatmaps", heat_t, tuple(heat_s.shape))
    _check("mask2d", mask2d, (b, j))
    w_gt = alpha * mask2d.to(heat_s.dtype)
    gt = ((heat_s - heat_gt) ** 2).sum(dim=(-2, -1))
    teach = ((heat_s - heat_t.detach()) ** 2).sum(dim=(-2, -1))
    return (w_gt * gt + (1.0 - w_gt) * teach).sum() / (b * j)


def mimicry_location_loss(loc_s: Tensor, loc_gt: Tensor, loc_t: Tensor, heat_gt: Tensor,
                          heat_t: Tensor, mask2d: Tensor, has3d: Tensor, alpha: float,
                          use_gt: bool = True) -> Tensor:
    """L_LM = alpha ||H_GT (X_S - X_GT)||^2 + (1 - alpha) ||M (X_S - X_T)||^2, summed over X, Y, Z.

    The ground-truth term exists where the joint has a 3D label (has3d, and mask2d or a drawn
    target heatmap: a joint outside the camera image keeps its 3D, see H36MDataset; and
    `use_gt`); elsewhere the teacher term alone supervises, with weight 1. The teacher term's
    mask M is the ground-truth heatmap where it is drawn and the (clamped) teacher heatmap
    where it is not, so 2D-only and unlabelled samples still learn 3D from
    the teacher around the joint the teacher sees.

    Args:
        loc_s, loc_gt, loc_t: (B, 3J, h, w) student, ground-truth, teacher location maps.
        heat_gt, heat_t: (B, J, h, w) ground-truth and teacher heatmaps.
        mask2d: (B, J); has3d: (B,).
        alpha: weight of the ground-truth term, in [0, 1].
        use_gt: False in 2D-only stages (no 3D ground truth is used at all).
    Returns:
        scalar, averaged over B * J.
    """
    _check_heat("ground-truth heatmaps", heat_gt)
    b, j, h, w = heat_gt.shape
    _check("teacher heatmaps", heat_t, (b, j, h, w))
    for name, t in (("student location maps", loc_s), ("ground-truth location maps", loc_gt),
                    ("teacher location maps", loc_t)):
        _check(name, t, (b, 3 * j, h, w))
    _check("mask2d", mask2d, (b, j))
    _check("has3d", has3d, (b,))
    # a joint's 3D label exists where its target heatmap is drawn: every 2D-labelled joint, and
    # also a labelled joint outside the camera image (mask2d 0, heatmap drawn: H36MDataset)
    drawn = ((mask2d > 0) | (heat_gt.detach().flatten(2).amax(-1) > 0)).to(loc_s.dtype)
    labelled = drawn * has3d.to(loc_s.dtype)[:, None] if use_gt else torch.zeros_like(drawn)
    w_gt = alpha * labelled
    teacher_mask = torch.where(drawn[..., None, None] > 0, heat_gt, mask_from_heatmaps(heat_t))
    gt = _per_joint_location(loc_s - loc_gt, heat_gt)
    teach = _per_joint_location(loc_s - loc_t.detach(), teacher_mask)
    return (w_gt * gt + (1.0 - w_gt) * teach).sum() / (b * j)


# ---- DWPose -------------------------------------------------------------------------------

def feature_loss(projected: Tensor, teacher_feature: Tensor) -> Tensor:
    """L_fea = MSE(proj(F_S), F_T), mean over elements.

    Args:
        projected: (B, C_T, h_s, w_s) student feature after the 1x1 projection.
        teacher_feature: (B, C_T, h_t, w_t); when the spatial sizes differ the student's map
            is resized bilinearly to the teacher's.
    """
    if projected.ndim != 4 or teacher_feature.ndim != 4 or projected.shape[:2] != teacher_feature.shape[:2]:
        raise ValueError(f"feature_loss: expected (B, C, h, w) maps with equal B and C, got "
                         f"{tuple(projected.shape)} and {tuple(teacher_feature.shape)}")
    if projected.shape[-2:] != teacher_feature.shape[-2:]:
        projected = F.interpolate(projected, size=teacher_feature.shape[-2:], mode="bilinear", align_corners=False)
    return F.mse_loss(projected, teacher_feature.detach())


def heatmap_kl_loss(heat_s: Tensor, heat_t: Tensor, beta: float = 10.0) -> Tensor:
    """Spatial-softmax KL per joint: KL(softmax(beta H_T) || softmax(beta H_S)), over ALL joints.

    The softmax runs over the h * w positions of each joint's map; beta sharpens it (with
    beta = 1 a heatmap in [0, 1] gives an almost flat distribution over 1024 cells, a weak
    signal). The gradient w.r.t. the student logits is beta (p_S - p_T) / (B * J).

    Args:
        heat_s, heat_t: (B, J, h, w) student and teacher heatmaps.
    Returns:
        scalar, KL in nats averaged over B * J.
    """
    _check_heat("student heatmaps", heat_s)
    _check("teacher heatmaps", heat_t, tuple(heat_s.shape))
    b, j = heat_s.shape[:2]
    log_s = F.log_softmax(beta * heat_s.reshape(b, j, -1).float(), dim=-1)
    log_t = F.log_softmax(beta * heat_t.detach().reshape(b, j, -1).float(), dim=-1)
    return (log_t.exp() * (log_t - log_s)).sum() / (b * j)


def masked_location_distill_loss(loc_s: Tensor, loc_t: Tensor, heat_t: Tensor) -> Tensor:
    """|| M_T (X_S - X_T) ||^2 over X, Y, Z with M_T = clamp(H_T, 0, 1), for every joint.

    Args:
        loc_s, loc_t: (B, 3J, h, w) student and teacher (or ensemble) location maps.
        heat_t: (B, J, h, w) teacher heatmaps (the mask).
    Returns:
        scalar, averaged over B * J.
    """
    _check_heat("teacher heatmaps", heat_t)
    b, j, h, w = heat_t.shape
    _check("student location maps", loc_s, (b, 3 * j, h, w))
    _check("teacher location maps", loc_t, (b, 3 * j, h, w))
    per = _per_joint_location(loc_s - loc_t.detach(), mask_from_heatmaps(heat_t))
    return per.sum() / (b * j)


def heatmap_mse_loss(heat_s: Tensor, heat_t: Tensor) -> Tensor:
    """|| H_S - H_T ||^2 per map, averaged over B * J (target detached). (B, J, h, w) each."""
    _check_heat("student heatmaps", heat_s)
    _check("target heatmaps", heat_t, tuple(heat_s.shape))
    b, j = heat_s.shape[:2]
    return ((heat_s - heat_t.detach()) ** 2).sum() / (b * j)


# ---- OKDHP --------------------------------------------------------------------------------

def ensemble_divergence(heat_b: Tensor, heat_ens: Tensor, kind: str, beta: float = 10.0) -> Tensor:
    """D(H_b, H_ens) of one branch against the (detached) ensemble heatmaps.

    kind "kl": heatmap_kl_loss with sharpening beta (the public code's temperature-1 KL on raw
    heatmaps is nearly flat; see docs/distillation.md); kind "mse": heatmap_mse_loss.
    Shapes (B, J, h, w).
    """
    if kind == "kl":
        return heatmap_kl_loss(heat_b, heat_ens, beta)
    if kind == "mse":
        return heatmap_mse_loss(heat_b, heat_ens)
    raise ValueError(f"unknown divergence {kind!r}; choose kl or mse")
