"""OKDHP (Li et al., ICCV 2021) on MoVNect: a multi-branch student, the feature-aggregation
unit (FAU), the ensemble, and extraction of one branch into a plain MoVNect.

    image -> shared trunk (MoVNect stem + MobileNetV2 blocks 1-12, 96 ch, stride 16)
               |-> branch b = 1..B: Block13_a, Block13_b, Block14, head (MoVNect's own
               |   modules, so a branch IS a MoVNect once joined to the trunk) -> maps_b
               '-> FAU -> weights w (N, B, J), softmax over branches for each joint
    ensemble maps[:, a*J + j] = sum_b w[:, b, j] maps_b[:, a*J + j] for every map kind a
    (H, X, Y, Z, and the bone maps dX, dY, dZ): a joint's 3D readout comes from the same
    mixture as its heatmap.

The split point: MoVNect's own blocks (13, 14, head) are the "last stages" that OKDHP
duplicates; the ImageNet-style trunk is shared. Each branch is built from a fresh MoVNect, so
branches start from different random weights (their diversity is what the ensemble feeds on).

Branch indexing (a known weakness of the public code, whose branch selection used wrong
indices): here branches are only ever addressed by their position in `branches`, the output
keeps that order (`MultiBranchOutput.branches[b]`), `branch_view(net, b)` / `extract_branch`
take the same index, and tests pin that branch b of the net equals the extracted MoVNect b.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from movnect.checkpoint import load_state
from movnect.models import PoseOutput
from movnect.models.blocks import ConvBNAct, check_input
from movnect.models.student import MoVNect, MoVNectStages

# The MoVNect attributes one branch owns; everything else (`backbone`) is shared.
BRANCH_MODULES = ("block13_a", "block13_b", "block14_features", "block14_bones", "head")


class MultiBranchOutput(NamedTuple):
    branches: tuple[PoseOutput, ...]  # per branch, in branch order
    weights: Tensor                   # (N, B, J) FAU weights, sum over B is 1
    ensemble: PoseOutput              # weighted maps / bones; feature = the shared trunk feature


class FeatureAggregationUnit(nn.Module):
    """SK-Net-style attention giving per-joint branch weights.

    (N, C, h, w) shared feature -> three depthwise paths (3x3, 5x5, 7x7; BN + ReLU) summed ->
    global average pool (N, C) -> Linear C -> hidden, ReLU -> Linear hidden -> B * J ->
    softmax over the B branches for each joint -> (N, B, J). The last layer starts at zero, so
    training starts from the plain average of the branches.
    """

    def __init__(self, channels: int, branches: int, num_joints: int, hidden: int = 32) -> None:
        super().__init__()
        self.branches, self.num_joints = branches, num_joints
        self.paths = nn.ModuleList(ConvBNAct(channels, channels, k, groups=channels) for k in (3, 5, 7))
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, branches * num_joints)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4:
            raise ValueError(f"FAU: expected (N, C, h, w), got {tuple(x.shape)}")
        u = sum(path(x) for path in self.paths)
        s = u.mean(dim=(-2, -1))
        logits = self.fc2(F.relu(self.fc1(s)))
        return torch.softmax(logits.view(-1, self.branches, self.num_joints), dim=1)


class _Branch(MoVNectStages):
    """The per-branch MoVNect modules, under MoVNect's own attribute names; `stages` is MoVNect's
    own forward of them."""

    def __init__(self, source: MoVNect) -> None:
        super().__init__()
        self.num_joints = source.num_joints
        for name in BRANCH_MODULES:
            setattr(self, name, getattr(source, name))


def weighted_sum(maps: list[Tensor], weights: Tensor) -> Tensor:
    """Per-joint mixture of B map tensors.

    Args:
        maps: B tensors (N, K*J, h, w), K map kinds of J joints each ([H | X | Y | Z] or bones).
        weights: (N, B, J).
    Returns:
        (N, K*J, h, w) with channel k*J + j = sum_b weights[:, b, j] maps[b][:, k*J + j].
    """
    n, nb, j = weights.shape
    if len(maps) != nb:
        raise ValueError(f"weighted_sum: {len(maps)} map tensors for {nb} branch weights")
    c, h, w = maps[0].shape[1:]
    if c % j or maps[0].shape[0] != n:
        raise ValueError(f"weighted_sum: maps {tuple(maps[0].shape)} do not fit weights {tuple(weights.shape)}")
    stacked = torch.stack(maps, dim=1).view(n, nb, c // j, j, h, w)
    return (stacked * weights.to(stacked.dtype)[:, :, None, :, None, None]).sum(dim=1).view(n, c, h, w)


class MultiBranchMoVNect(nn.Module):
    """MoVNect with a shared trunk and `branches` copies of its last stages, plus the FAU.

    Input (N, 3, S, S) normalised RGB (S a multiple of 16); returns MultiBranchOutput with
    per-branch PoseOutput(maps (N, 4J, S/8, S/8), bones (N, 3J, S/8, S/8), feature (N, C,
    S/16, S/16)), FAU weights (N, B, J) and the ensemble.
    """

    def __init__(self, num_joints: int, width: float = 1.0, branches: int = 3, fau_hidden: int = 32) -> None:
        super().__init__()
        if branches < 2:
            raise ValueError(f"a multi-branch network needs >= 2 branches, got {branches}")
        self.num_joints, self.width = num_joints, width
        sources = [MoVNect(num_joints, width) for _ in range(branches)]
        self.backbone = sources[0].backbone
        self.branches = nn.ModuleList(_Branch(m) for m in sources)
        in_ch = sources[0].block13_a.shortcut[0].in_channels  # the trunk's output channels
        self.fau = FeatureAggregationUnit(in_ch, branches, num_joints, fau_hidden)

    @property
    def num_branches(self) -> int:
        return len(self.branches)

    def branch_forward(self, trunk: Tensor, b: int) -> PoseOutput:
        """Branch b on the shared trunk feature (MoVNect's own `stages` forward)."""
        branch: _Branch = self.branches[b]  # type: ignore[assignment]  # ModuleList items are Modules
        return branch.stages(trunk)

    def forward(self, x: Tensor) -> MultiBranchOutput:
        check_input(x)
        trunk = self.backbone(x)
        outs = tuple(self.branch_forward(trunk, b) for b in range(self.num_branches))
        weights = self.fau(trunk)
        ens = PoseOutput(weighted_sum([o.maps for o in outs], weights),
                         weighted_sum([o.bones for o in outs], weights), trunk)
        return MultiBranchOutput(outs, weights, ens)


def _check_index(net: MultiBranchMoVNect, b: int) -> None:
    if not 0 <= b < net.num_branches:
        raise ValueError(f"branch index {b} outside 0..{net.num_branches - 1}")


def branch_view(net: MultiBranchMoVNect, b: int) -> MoVNect:
    """A MoVNect whose modules ARE the trunk and branch b of `net` (shared parameters).

    Training `net` changes the view; the view's state_dict has plain MoVNect keys, so it can
    be saved as a normal student checkpoint at any time.
    """
    _check_index(net, b)
    view = MoVNect(net.num_joints, net.width)
    view.backbone = net.backbone
    for name in BRANCH_MODULES:
        setattr(view, name, getattr(net.branches[b], name))
    return view.to(next(net.parameters()).device)


def point_view(view: MoVNect, net: MultiBranchMoVNect, b: int) -> None:
    """Re-point an existing `branch_view` at branch b (same object, other branch's modules)."""
    _check_index(net, b)
    view.backbone = net.backbone
    for name in BRANCH_MODULES:
        setattr(view, name, getattr(net.branches[b], name))


def extract_branch(net: MultiBranchMoVNect, b: int) -> MoVNect:
    """An independent MoVNect (own parameters and BN statistics) equal to branch b of `net`."""
    _check_index(net, b)
    model = MoVNect(net.num_joints, net.width)
    state = {f"backbone.{k}": v for k, v in net.backbone.state_dict().items()}
    state.update(net.branches[b].state_dict())
    load_state(model, {k: v.detach().clone() for k, v in state.items()}, f"OKDHP branch {b}")
    model.train(net.training)
    return model.to(next(net.parameters()).device)
