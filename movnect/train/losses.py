"""Supervised losses of the teacher and the student (VNect's formulation).

Normalisation: every term is a sum of squares over the pixels of one joint's map, averaged
over (batch x joints). Per-map sums keep the Gaussian peaks from being drowned by the empty
background (a per-pixel mean would divide the signal by h * w) and make the terms independent
of the map size.

  heatmap  sum_px mask2d_j (H_j - H_j^GT)^2
  location sum_px sum_{A in X,Y,Z} has3d (H_j^GT (A_j - A_j^GT))^2       (VNect)
  bones    sum_px sum_{A in dX,dY,dZ} has3d (H_j^GT (dA_j - dA_j^GT))^2
           dA_j^GT = A_j - A_parent(j), the parent-relative bone vector in location-map units
           (zero for the root): VNect's auxiliary bone maps, supervised at the child's 2D
           position like the location maps.
Location and bone targets are in the codec's location unit (`location_scale_mm`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

from movnect import skeleton
from movnect.codec import Codec
from movnect.models import PoseOutput
from movnect.train.config import LossConfig


def _check(name: str, t: Tensor, shape: tuple[int, ...]) -> None:
    if tuple(t.shape) != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {tuple(t.shape)}")


def heatmap_loss(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Masked heatmap MSE.

    Args:
        pred, target: (B, J, h, w) heatmaps.
        mask: (B, J), 1 where the joint's 2D label exists.
    Returns:
        scalar: sum over pixels of squared error, averaged over B * J.
    """
    b, j = target.shape[:2]
    _check("heatmap prediction", pred, tuple(target.shape))
    _check("mask2d", mask, (b, j))
    per_map = ((pred - target) ** 2).sum(dim=(-2, -1))  # (B, J)
    return (per_map * mask).sum() / (b * j)


def masked_vector_loss(pred: Tensor, target: Tensor, heat_gt: Tensor, has3d: Tensor) -> Tensor:
    """VNect's location-map loss || H^GT (.) (X - X^GT) ||^2 summed over the three axes.

    Args:
        pred, target: (B, 3J, h, w) maps, channels [X (J), Y (J), Z (J)].
        heat_gt: (B, J, h, w) ground-truth heatmaps (zero for unlabelled joints).
        has3d: (B,), 1 for samples with a 3D label.
    Returns:
        scalar, averaged over B * J.
    """
    b, j = heat_gt.shape[:2]
    _check("vector-map prediction", pred, (b, 3 * j, *heat_gt.shape[2:]))
    _check("vector-map target", target, tuple(pred.shape))
    _check("has3d", has3d, (b,))
    weight = heat_gt.repeat(1, 3, 1, 1)  # the joint's heatmap masks its X, Y and Z maps
    per_map = ((weight * (pred - target)) ** 2).sum(dim=(-2, -1))  # (B, 3J)
    return (per_map * has3d[:, None]).sum() / (b * j)


@functools.lru_cache(maxsize=8)
def _parent_index(device: torch.device) -> Tensor:
    """skeleton.PARENTS (the root its own parent) as an index on `device`, made once per device:
    building it from a list at every step would be a blocking host-to-device copy."""
    return torch.tensor([max(p, 0) for p in skeleton.PARENTS], device=device)


def bone_targets(joints3d: Tensor, codec: Codec) -> Tensor:
    """Parent-relative bone-vector maps.

    Args:
        joints3d: (B, J, 3) root-relative joints, mm (J = 17, skeleton.PARENTS order).
    Returns:
        (B, 3J, h, w) [dX (J), dY (J), dZ (J)] in location units; the root's vector is zero.
    """
    if joints3d.ndim != 3 or joints3d.shape[1:] != (skeleton.NUM_JOINTS, 3):
        raise ValueError(f"bone_targets: expected (B, {skeleton.NUM_JOINTS}, 3), got {tuple(joints3d.shape)}")
    bones = joints3d - joints3d[:, _parent_index(joints3d.device)]  # root minus itself = 0
    return codec.encode_locations(bones)


@dataclass
class LossTerms:
    """The total loss to back-propagate and its detached parts for logging."""

    total: Tensor
    parts: dict[str, Tensor]


class PoseLoss:
    """Weighted sum of the terms above for one stage (`use_3d` False: heatmaps only)."""

    def __init__(self, codec: Codec, cfg: LossConfig, use_3d: bool) -> None:
        self.codec = codec
        self.cfg = cfg
        self.use_3d = use_3d

    def __call__(self, out: PoseOutput, batch: dict[str, Tensor]) -> LossTerms:
        """out: model output (maps (B, 4J, h, w), bones (B, 3J, h, w)); batch: the Dataset
        sample dict (docs/architecture.md) collated and on the model's device."""
        heat, loc = self.codec.split(out.maps.float())
        heat_gt = batch["heatmaps"]
        parts: dict[str, Tensor] = {"heatmap": heatmap_loss(heat, heat_gt, batch["mask2d"])}
        total = self.cfg.heatmap * parts["heatmap"]
        if self.use_3d and self.cfg.location > 0:
            parts["location"] = masked_vector_loss(loc, batch["locmaps"], heat_gt, batch["has3d"])
            total = total + self.cfg.location * parts["location"]
        if self.use_3d and self.cfg.bones > 0:
            target = bone_targets(batch["joints3d"], self.codec)
            parts["bones"] = masked_vector_loss(out.bones.float(), target, heat_gt, batch["has3d"])
            total = total + self.cfg.bones * parts["bones"]
        parts = {k: v.detach() for k, v in parts.items()}
        parts["total"] = total.detach()
        return LossTerms(total, parts)
