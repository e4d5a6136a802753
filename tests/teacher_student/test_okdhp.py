"""OKDHP multi-branch MoVNect: shapes, FAU weights, ensemble arithmetic, branch indexing,
and extraction of a branch into a plain MoVNect with identical outputs."""
from __future__ import annotations

import pytest
import torch

from movnect.models.student import MoVNect
from teacher_student.losses import ensemble_divergence
from teacher_student.okdhp import (
    FeatureAggregationUnit,
    MultiBranchMoVNect,
    branch_view,
    extract_branch,
    point_view,
    weighted_sum,
)

J = 17


def _net(branches: int = 3) -> MultiBranchMoVNect:
    torch.manual_seed(0)
    return MultiBranchMoVNect(J, width=0.25, branches=branches, fau_hidden=8)


def _x(n: int = 2, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def _train_a_little(net: MultiBranchMoVNect, steps: int = 3) -> None:
    """A few SGD steps on every branch and the ensemble, so weights and BN statistics move
    away from their initial values (and differ between branches)."""
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    net.train()
    for i in range(steps):
        out = net(_x(4, seed=10 + i))
        loss = sum((o.maps**2).mean() for o in out.branches) + (out.ensemble.maps - 1).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_shapes_and_weights() -> None:
    net = _net().eval()
    out = net(_x())
    assert len(out.branches) == 3
    for o in out.branches:
        assert o.maps.shape == (2, 4 * J, 8, 8) and o.bones.shape == (2, 3 * J, 8, 8)
    assert out.weights.shape == (2, 3, J)
    torch.testing.assert_close(out.weights.sum(1), torch.ones(2, J))
    # the FAU's last layer starts at zero: the initial ensemble is the plain branch average
    torch.testing.assert_close(out.weights, torch.full((2, 3, J), 1 / 3))
    mean = sum(o.maps for o in out.branches) / 3
    torch.testing.assert_close(out.ensemble.maps, mean)


def test_weighted_sum_matches_explicit_loop() -> None:
    g = torch.Generator().manual_seed(3)
    maps = [torch.randn(2, 4 * J, 3, 3, generator=g) for _ in range(3)]
    w = torch.softmax(torch.randn(2, 3, J, generator=g), 1)
    got = weighted_sum(maps, w)
    for n in range(2):
        for kind in range(4):
            for j in range(J):
                c = kind * J + j
                expected = sum(w[n, b, j] * maps[b][n, c] for b in range(3))
                torch.testing.assert_close(got[n, c], expected)
    with pytest.raises(ValueError, match="2 map tensors for 3 branch weights"):
        weighted_sum(maps[:2], w)


def test_fau_is_per_joint_softmax_and_learns() -> None:
    fau = FeatureAggregationUnit(16, branches=3, num_joints=5, hidden=4)
    x = torch.randn(2, 16, 4, 4)
    with torch.no_grad():
        fau.fc2.weight.normal_()
    w = fau(x)
    assert w.shape == (2, 3, 5)
    torch.testing.assert_close(w.sum(1), torch.ones(2, 5))
    assert (w > 0).all() and w.std() > 0
    with pytest.raises(ValueError, match=r"\(2, 16\)"):
        fau(torch.zeros(2, 16))


@pytest.mark.parametrize("branch", [0, 1, 2])
def test_extracted_branch_is_identical_to_the_branch_inside_the_net(branch: int) -> None:
    net = _net()
    _train_a_little(net)
    net.eval()
    x = _x(3, seed=7)
    inside = net(x).branches[branch]
    single = extract_branch(net, branch)
    assert type(single) is MoVNect and not single.training
    out = single(x)
    assert torch.equal(out.maps, inside.maps)
    assert torch.equal(out.bones, inside.bones)
    assert torch.equal(out.feature, inside.feature)
    # the branches really differ, so equality above is not vacuous
    other = net(x).branches[(branch + 1) % 3]
    assert not torch.allclose(other.maps, inside.maps)


def test_extracted_branch_is_independent_and_view_is_shared() -> None:
    net = _net().eval()
    x = _x()
    single = extract_branch(net, 1)
    view = branch_view(net, 1)
    before = single(x).maps.clone()
    with torch.no_grad():
        net.branches[1].head[2].bias.add_(1.0)
    assert torch.equal(single(x).maps, before)               # a copy: unchanged
    assert torch.equal(view(x).maps, net(x).branches[1].maps)  # a view: follows the net
    point_view(view, net, 2)
    assert torch.equal(view(x).maps, net(x).branches[2].maps)
    assert set(view.state_dict()) == set(MoVNect(J, 0.25).state_dict())


def test_branch_index_errors() -> None:
    net = _net()
    for f in (extract_branch, branch_view):
        with pytest.raises(ValueError, match="branch index 3 outside 0..2"):
            f(net, 3)
    with pytest.raises(ValueError, match=">= 2 branches"):
        MultiBranchMoVNect(J, 0.25, branches=1)


def test_distillation_of_one_branch_reaches_that_branch_only() -> None:
    """D(H_b, H_ens) with a detached ensemble moves branch b (and the shared trunk), never the
    other branches nor the FAU: the branch indexing the public code got wrong."""
    net = _net().train()
    out = net(_x(4))
    heat_ens = out.ensemble.maps[:, :J]
    ensemble_divergence(out.branches[1].maps[:, :J], heat_ens, "kl").backward()

    def has_grad(module: torch.nn.Module) -> bool:
        return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())

    assert has_grad(net.branches[1]) and has_grad(net.backbone)
    assert not has_grad(net.branches[0]) and not has_grad(net.branches[2]) and not has_grad(net.fau)


def test_multibranch_costs_more_than_one_student_but_extraction_does_not() -> None:
    net = _net()
    n_net = sum(p.numel() for p in net.parameters())
    n_one = sum(p.numel() for p in extract_branch(net, 0).parameters())
    assert n_one == sum(p.numel() for p in MoVNect(J, 0.25).parameters())
    assert n_net > 2 * n_one
