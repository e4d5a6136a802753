"""Distillation losses: hand-computed values, zero at the mimicked target, gradient direction,
masks honoured, no gradient to the teacher, shape errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from teacher_student.losses import (
    ensemble_divergence,
    feature_loss,
    heatmap_kl_loss,
    heatmap_mse_loss,
    masked_location_distill_loss,
    mimicry_heatmap_loss,
    mimicry_location_loss,
)

B, J, H, W = 2, 3, 4, 5


def _heat(seed: int) -> torch.Tensor:
    return torch.rand(B, J, H, W, generator=torch.Generator().manual_seed(seed))


def _loc(seed: int) -> torch.Tensor:
    return torch.randn(B, 3 * J, H, W, generator=torch.Generator().manual_seed(seed))


ONES = torch.ones(B, J)


# ---- mimicry heatmaps ----------------------------------------------------------------------

def test_mimicry_heatmap_hand_computed() -> None:
    s, gt, t = torch.zeros(1, 1, 1, 2), torch.tensor([[[[1.0, 0.0]]]]), torch.tensor([[[[0.0, 2.0]]]])
    # alpha * 1 + (1 - alpha) * 4 with alpha = 0.25
    assert mimicry_heatmap_loss(s, gt, t, torch.ones(1, 1), 0.25).item() == pytest.approx(0.25 + 3.0)


def test_mimicry_heatmap_zero_at_targets() -> None:
    gt = _heat(1)
    assert mimicry_heatmap_loss(gt.clone(), gt, gt.clone(), ONES, 0.5).item() == 0.0
    t = _heat(2)  # alpha = 0: the teacher alone is mimicked
    assert mimicry_heatmap_loss(t.clone(), gt, t, ONES, 0.0).item() == 0.0


def test_mimicry_heatmap_gradient_points_to_blend() -> None:
    gt, t, alpha = _heat(1), _heat(2), 0.3
    s = _heat(3).requires_grad_(True)
    mimicry_heatmap_loss(s, gt, t, ONES, alpha).backward()
    expected = 2 * (alpha * (s - gt) + (1 - alpha) * (s - t)) / (B * J)
    torch.testing.assert_close(s.grad, expected.detach())
    # minimum at the blend alpha * GT + (1 - alpha) * T
    best = (alpha * gt + (1 - alpha) * t).requires_grad_(True)
    mimicry_heatmap_loss(best, gt, t, ONES, alpha).backward()
    assert best.grad.abs().max() < 1e-6


def test_mimicry_heatmap_unlabelled_joint_uses_teacher_alone() -> None:
    gt, t, s = _heat(1), _heat(2), _heat(3)
    mask = ONES.clone()
    mask[0, 1] = 0
    base = mimicry_heatmap_loss(s, gt, t, mask, 0.5)
    gt2 = gt.clone()
    gt2[0, 1] += 5.0  # the label of an unlabelled joint does not matter
    assert mimicry_heatmap_loss(s, gt2, t, mask, 0.5).item() == pytest.approx(base.item())
    s2 = s.clone()
    s2[0, 1] = t[0, 1]  # ... and matching the teacher there removes its whole contribution
    per_joint_teacher = ((s[0, 1] - t[0, 1]) ** 2).sum()
    assert (base - mimicry_heatmap_loss(s2, gt, t, mask, 0.5)).item() == pytest.approx(per_joint_teacher.item() / (B * J), rel=1e-5)


def test_no_gradient_reaches_the_teacher() -> None:
    t = _heat(2).requires_grad_(True)
    lt = _loc(2).requires_grad_(True)
    s = _heat(3).requires_grad_(True)
    ls = _loc(3).requires_grad_(True)
    loss = (mimicry_heatmap_loss(s, _heat(1), t, ONES, 0.5) + heatmap_kl_loss(s, t)
            + mimicry_location_loss(ls, _loc(1), lt, _heat(1), t, ONES, torch.ones(B), 0.5)
            + masked_location_distill_loss(ls, lt, t))
    loss.backward()
    assert t.grad is None and lt.grad is None and s.grad is not None and ls.grad is not None


# ---- mimicry location maps -----------------------------------------------------------------

def test_mimicry_location_hand_computed() -> None:
    # one joint, one pixel: heat_gt 0.5, loc_s = 0, loc_gt = (1, 2, 3), loc_t = (2, 0, 0)
    hg = torch.full((1, 1, 1, 1), 0.5)
    ls = torch.zeros(1, 3, 1, 1)
    lg = torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1)
    lt = torch.tensor([2.0, 0.0, 0.0]).view(1, 3, 1, 1)
    ht = torch.full((1, 1, 1, 1), 0.9)
    got = mimicry_location_loss(ls, lg, lt, hg, ht, torch.ones(1, 1), torch.ones(1), 0.5)
    gt_term = 0.25 * (1 + 4 + 9)
    teacher_term = 0.25 * 4  # GT mask where the 2D label exists
    assert got.item() == pytest.approx(0.5 * gt_term + 0.5 * teacher_term)
    # no 3D label: teacher alone (weight 1), still under the GT 2D mask
    got = mimicry_location_loss(ls, lg, lt, hg, ht, torch.ones(1, 1), torch.zeros(1), 0.5)
    assert got.item() == pytest.approx(teacher_term)
    # no 2D label either: the teacher's heatmap (0.9) masks the teacher term
    got = mimicry_location_loss(ls, lg, lt, hg * 0, ht, torch.zeros(1, 1), torch.zeros(1), 0.5)
    assert got.item() == pytest.approx(0.81 * 4)


def test_mimicry_location_zero_at_targets_and_ignores_gt_without_3d() -> None:
    hg, ht, lg, lt = _heat(1), _heat(2), _loc(1), _loc(2)
    assert mimicry_location_loss(lg.clone(), lg, lg.clone(), hg, ht, ONES, torch.ones(B), 0.5).item() == 0.0
    no3d = torch.zeros(B)
    assert mimicry_location_loss(lt.clone(), lg, lt, hg, ht, ONES, no3d, 0.5).item() == 0.0
    base = mimicry_location_loss(_loc(3), lg, lt, hg, ht, ONES, no3d, 0.5)
    assert mimicry_location_loss(_loc(3), lg + 7.0, lt, hg, ht, ONES, no3d, 0.5).item() == pytest.approx(base.item())
    # use_gt=False (2D stage) ignores the 3D ground truth even where has3d is 1
    a = mimicry_location_loss(_loc(3), lg, lt, hg, ht, ONES, torch.ones(B), 0.5, use_gt=False)
    assert a.item() == pytest.approx(mimicry_location_loss(_loc(3), lg, lt, hg, ht, ONES, no3d, 0.5).item())


def test_mimicry_location_mask_outside_the_joint_is_ignored() -> None:
    hg = torch.zeros(B, J, H, W)
    hg[:, :, 1, 2] = 1.0  # the GT heatmap is non-zero at one pixel only
    ls = _loc(3).requires_grad_(True)
    mimicry_location_loss(ls, _loc(1), _loc(2), hg, _heat(2), ONES, torch.ones(B), 0.5).backward()
    grad = ls.grad.clone()
    grad[:, :, 1, 2] = 0
    assert grad.abs().max() == 0.0


def test_mimicry_location_gradient_direction() -> None:
    hg, lg, lt = torch.ones(B, J, H, W), _loc(1), _loc(2)
    ls = _loc(3).requires_grad_(True)
    mimicry_location_loss(ls, lg, lt, hg, _heat(2), ONES, torch.ones(B), 0.5).backward()
    torch.testing.assert_close(ls.grad, (2 * (0.5 * (ls - lg) + 0.5 * (ls - lt)) / (B * J)).detach())


# ---- DWPose --------------------------------------------------------------------------------

def test_heatmap_kl_hand_computed_and_zero() -> None:
    t = torch.tensor([0.0, 1.0, 0.0, 0.0]).view(1, 1, 2, 2)
    s = torch.tensor([0.5, 0.5, 0.0, 0.0]).view(1, 1, 2, 2)
    beta = 2.0
    p = np.exp(beta * np.array([0, 1, 0, 0.0]))
    p /= p.sum()
    q = np.exp(beta * np.array([0.5, 0.5, 0, 0.0]))
    q /= q.sum()
    assert heatmap_kl_loss(s, t, beta).item() == pytest.approx(float((p * np.log(p / q)).sum()), rel=1e-5)
    assert heatmap_kl_loss(t.clone(), t, beta).item() == pytest.approx(0.0, abs=1e-7)
    assert heatmap_kl_loss(t + 3.0, t, beta).item() == pytest.approx(0.0, abs=1e-6)  # shift-invariant


def test_heatmap_kl_gradient_is_beta_times_probability_gap() -> None:
    t, beta = _heat(1), 10.0
    s = _heat(2).requires_grad_(True)
    heatmap_kl_loss(s, t, beta).backward()
    ps = torch.softmax(beta * s.detach().reshape(B, J, -1), -1)
    pt = torch.softmax(beta * t.reshape(B, J, -1), -1)
    torch.testing.assert_close(s.grad, (beta * (ps - pt) / (B * J)).view(B, J, H, W), rtol=1e-4, atol=1e-7)


def test_heatmap_kl_covers_every_joint_and_sharpening_matters() -> None:
    t, s = _heat(1), _heat(2)
    s2 = s.clone()
    s2[1, 2] = t[1, 2]  # matching one joint lowers the loss: no joint is skipped
    assert heatmap_kl_loss(s2, t).item() < heatmap_kl_loss(s, t).item()
    # a temperature-1 softmax over a heatmap in [0, 1] is nearly flat: a far weaker signal
    assert heatmap_kl_loss(s, t, 1.0).item() < 0.05 * heatmap_kl_loss(s, t, 10.0).item()


def test_feature_loss_resizes_and_checks_channels() -> None:
    proj = torch.full((2, 4, 2, 2), 3.0)
    teacher = torch.full((2, 4, 4, 4), 3.0)
    assert feature_loss(proj, teacher).item() == pytest.approx(0.0)
    assert feature_loss(proj, teacher - 1.0).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\(2, 4, 2, 2\) and \(2, 5, 4, 4\)"):
        feature_loss(proj, torch.zeros(2, 5, 4, 4))


def test_masked_location_distill_uses_clamped_teacher_mask() -> None:
    ht = torch.zeros(1, 1, 1, 2)
    ht[0, 0, 0, 0] = 1.7   # clamped to 1
    ht[0, 0, 0, 1] = -0.4  # clamped to 0: this pixel is ignored
    ls = torch.zeros(1, 3, 1, 2)
    lt = torch.ones(1, 3, 1, 2)
    assert masked_location_distill_loss(ls, lt, ht).item() == pytest.approx(3.0)
    assert masked_location_distill_loss(lt.clone(), lt, ht).item() == 0.0


def test_ensemble_divergence_kinds() -> None:
    t, s = _heat(1), _heat(2)
    assert ensemble_divergence(s, t, "mse").item() == pytest.approx(heatmap_mse_loss(s, t).item())
    assert ensemble_divergence(s, t, "kl", 10.0).item() == pytest.approx(heatmap_kl_loss(s, t, 10.0).item())
    assert ensemble_divergence(t.clone(), t, "kl").item() == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="unknown divergence 'l1'"):
        ensemble_divergence(s, t, "l1")


def test_shape_errors_name_the_shape() -> None:
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        mimicry_heatmap_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), ONES, 0.5)
    with pytest.raises(ValueError, match=r"mask2d.*\(2, 2\)"):
        mimicry_heatmap_loss(_heat(1), _heat(1), _heat(1), torch.ones(2, 2), 0.5)
    with pytest.raises(ValueError, match=r"teacher location maps.*\(2, 3, 4, 5\)"):
        mimicry_location_loss(_loc(1), _loc(1), torch.zeros(2, 3, 4, 5), _heat(1), _heat(1), ONES, torch.ones(B), 0.5)
    with pytest.raises(ValueError, match=r"teacher heatmaps.*\(2, 3, 4, 4\)"):
        heatmap_kl_loss(_heat(1), torch.zeros(2, 3, 4, 4))
    assert math.isfinite(heatmap_kl_loss(_heat(1) * 100, _heat(2) * 100).item())  # large logits stay finite


def test_mimicry_keeps_the_3d_label_of_a_joint_outside_the_image() -> None:
    """mask2d 0 with a drawn target heatmap (H36MDataset: labelled, outside the camera image):
    the ground-truth location term still acts; mask2d 0 with no heatmap (unlabelled): it does not."""
    torch.manual_seed(0)
    b, j, n = 1, 3, 8
    heat_gt = torch.zeros(b, j, n, n)
    heat_gt[0, 0, 2, 2] = heat_gt[0, 1, 5, 5] = 1.0           # joints 0 (in view) and 1 (outside)
    mask2d = torch.tensor([[1.0, 0.0, 0.0]])                   # joint 2: unlabelled, nothing drawn
    loc_s, loc_t = torch.randn(b, 3 * j, n, n), torch.randn(b, 3 * j, n, n)
    heat_t = torch.rand(b, j, n, n)

    def loss(loc_gt: torch.Tensor) -> float:
        return float(mimicry_location_loss(loc_s, loc_gt, loc_t, heat_gt, heat_t, mask2d, torch.ones(1), 0.5))

    base = torch.zeros(b, 3 * j, n, n)
    for joint, acts in ((0, True), (1, True), (2, False)):
        moved = base.clone()
        moved[0, [joint, j + joint, 2 * j + joint]] += 3.0
        assert (loss(moved) != loss(base)) == acts, joint
