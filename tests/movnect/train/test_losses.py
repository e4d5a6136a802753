"""Loss terms against hand-computed values; masking by the GT heatmap, mask2d and has3d."""
from __future__ import annotations

import pytest
import torch

from movnect import skeleton
from movnect.codec import Codec, CodecConfig
from movnect.models import PoseOutput
from movnect.train.config import LossConfig
from movnect.train.losses import PoseLoss, bone_targets, heatmap_loss, masked_vector_loss

J = skeleton.NUM_JOINTS


def test_heatmap_loss_hand_computed_and_masked() -> None:
    target = torch.zeros(2, 3, 4, 4)
    pred = torch.zeros(2, 3, 4, 4)
    pred[0, 1, 2, 2] = 2.0   # squared error 4 on a labelled joint
    pred[1, 2, 0, 0] = 10.0  # on an unlabelled joint: masked out
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    assert float(heatmap_loss(pred, target, mask)) == pytest.approx(4.0 / 6)
    with pytest.raises(ValueError, match=r"mask2d: expected shape \(2, 3\), got \(2, 2\)"):
        heatmap_loss(pred, target, mask[:, :2])


def test_location_loss_weighted_by_squared_gt_heatmap_and_has3d() -> None:
    b, j = 2, 2
    heat = torch.zeros(b, j, 3, 3)
    heat[:, 0, 1, 1] = 1.0
    heat[:, 0, 1, 2] = 0.5
    pred = torch.zeros(b, 3 * j, 3, 3)
    target = torch.zeros_like(pred)
    pred[:, 0] = 2.0        # X of joint 0 off by 2 everywhere: (1*2)^2 + (0.5*2)^2 = 5
    pred[:, 5] = 3.0        # Z of joint 1 off by 3 where joint 1's heatmap is 0: no loss
    has3d = torch.tensor([1.0, 0.0])  # the second sample has no 3D label
    assert float(masked_vector_loss(pred, target, heat, has3d)) == pytest.approx(5.0 / (b * j))


def test_bone_targets_are_parent_relative_in_location_units() -> None:
    codec = Codec(CodecConfig(input_size=32, location_scale_mm=100.0))
    joints = torch.randn(2, J, 3) * 300
    joints[:, 0] = 0
    t = bone_targets(joints, codec)
    assert t.shape == (2, 3 * J, 4, 4)
    knee, hip = 2, 1
    assert skeleton.PARENTS[knee] == hip
    torch.testing.assert_close(t[:, 2 * J + knee, 0, 0], (joints[:, knee, 2] - joints[:, hip, 2]) / 100.0)
    assert float(t[:, [0, J, 2 * J]].abs().max()) == 0.0  # the root has no bone


def test_pose_loss_terms_by_stage_kind() -> None:
    codec = Codec(CodecConfig(input_size=32))
    j2 = torch.rand(2, J, 2) * 31
    j3 = torch.randn(2, J, 3) * 300
    j3 = j3 - j3[:, :1]
    heat, loc = codec.encode(j2, j3)
    batch = {"heatmaps": heat, "locmaps": loc, "joints3d": j3, "mask2d": torch.ones(2, J), "has3d": torch.ones(2)}
    perfect = PoseOutput(torch.cat([heat, loc], 1), bone_targets(j3, codec), torch.zeros(2, 8, 2, 2))
    full = PoseLoss(codec, LossConfig(heatmap=1, location=1, bones=0.5), use_3d=True)
    out = full(perfect, batch)
    assert set(out.parts) == {"heatmap", "location", "bones", "total"} and float(out.total) == 0.0
    maps = (perfect.maps + 0.1).requires_grad_(True)
    bones = (perfect.bones + 0.2).requires_grad_(True)
    noisy = PoseOutput(maps, bones, perfect.feature)
    out = full(noisy, batch)
    expect = out.parts["heatmap"] + out.parts["location"] + 0.5 * out.parts["bones"]
    torch.testing.assert_close(out.total, expect)
    assert float(out.parts["heatmap"]) == pytest.approx(0.01 * 16)  # 0.1^2 on each of 4x4 cells
    only2d = PoseLoss(codec, LossConfig(bones=0.5), use_3d=False)(noisy, batch)
    assert set(only2d.parts) == {"heatmap", "total"}
    out.total.backward()
    assert float(maps.grad.abs().sum()) > 0 and float(bones.grad.abs().sum()) > 0
    assert not out.parts["total"].requires_grad  # logged parts are detached
