"""DWPose two-stage distillation (Yang et al., 2023) for heatmap + location-map students.

Stage 1 (teacher frozen): the student trains with its supervised loss plus, weighted by the
linear decay r(t), a feature loss through a trainable 1x1 projection of its stride-16 feature
to the teacher's channels, the sharpened spatial-softmax KL on the heatmaps of every joint,
and the location maps matched under the teacher's heatmap mask.

Stage 2, head-aware self-KD: the stage-1 student's backbone is frozen (weights and BatchNorm
statistics), its head is replaced by a freshly initialised one, and the new head learns only
from the frozen stage-1 model's head outputs on the same features. The result is the frozen
backbone plus the new head: one ordinary student of the same architecture, so the checkpoint
is a normal one (movnect.checkpoint.load_model).

"Head" per student architecture (everything after the stride-16 `feature`):
  movnect   Block14 (both branches) and the 4J head
  litepose  the fusion deconvolutions and both prediction SepConvs
"""
from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from movnect.models import ModelConfig, PoseOutput, build_model
from teacher_student.losses import heatmap_kl_loss, heatmap_mse_loss, masked_location_distill_loss

HEAD_MODULES: dict[str, tuple[str, ...]] = {
    "movnect": ("block14_features", "block14_bones", "head"),
    "litepose": ("deconv_refined", "deconv_raw", "deconv_bn_relu", "final_refined", "final_raw"),
}


# The layers that write the maps; a fresh stage-2 head starts them at zero (see reset_head).
OUTPUT_LAYERS: dict[str, tuple[str, ...]] = {
    "movnect": ("head.2",),
    "litepose": ("final_refined.1", "final_raw.1"),
}


def head_modules(cfg: ModelConfig) -> tuple[str, ...]:
    """Attribute names of the head of a student architecture (see the module docstring)."""
    if cfg.name not in HEAD_MODULES:
        raise ValueError(f"DWPose stage 2 needs a student (movnect or litepose), got model {cfg.name!r}")
    return HEAD_MODULES[cfg.name]


class FeatureProjector(nn.Module):
    """The trainable 1x1 conv (with bias) from student to teacher feature channels.
    (B, C_S, h, w) -> (B, C_T, h, w)."""

    def __init__(self, student_channels: int, teacher_channels: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(student_channels, teacher_channels, 1)

    def forward(self, feature: Tensor) -> Tensor:
        return self.proj(feature)


class StudentWithProjector(nn.Module):
    """Stage-1 training module: the student and its projector under one parent (one DDP
    wrapper, one optimiser). forward(x) -> (PoseOutput of the student, projected feature, or
    None without a projector: with the feature loss off it must not exist, or DDP would wait
    for gradients of unused parameters)."""

    def __init__(self, student: nn.Module, projector: FeatureProjector | None) -> None:
        super().__init__()
        self.student, self.projector = student, projector

    def forward(self, x: Tensor) -> tuple[PoseOutput, Tensor | None]:
        out = self.student(x)
        return out, None if self.projector is None else self.projector(out.feature)


@torch.no_grad()
def feature_channels(model: nn.Module, input_size: int = 64) -> int:
    """Channels of a model's stride-16 `feature`, from one small forward in eval mode."""
    was = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        return int(model(torch.zeros(1, 3, input_size, input_size, device=device)).feature.shape[1])
    finally:
        model.train(was)


def freeze_backbone(model: nn.Module, cfg: ModelConfig) -> None:
    """requires_grad False on every parameter outside the head; the head stays trainable."""
    heads = head_modules(cfg)
    for name, p in model.named_parameters():
        p.requires_grad_(name.split(".", 1)[0] in heads)


def backbone_eval(model: nn.Module, cfg: ModelConfig) -> None:
    """Put every top-level module outside the head in eval mode (frozen BatchNorm statistics);
    call after model.train()."""
    heads = head_modules(cfg)
    for name, child in model.named_children():
        if name not in heads:
            child.eval()


def reset_head(model: nn.Module, cfg: ModelConfig, seed: int) -> None:
    """Re-initialise the head: the architecture's own initialisation, drawn under `seed` (a
    fresh network of the same config lends its head weights), except the layers that write
    the maps, which start at zero.

    Why zero: with the architecture's initialisation the fresh head's first maps are far from
    the stage-1 maps (self-KD heatmap term ~220 per map vs ~1 at the end of stage 1), and the
    short stage-2 budget was spent undoing that: on the synthetic benchmark (MoVNect x0.5,
    100 stage-2 steps) validation MPJPE went 123 mm (stage 1) -> 188 mm with it, 150 mm with the
    zero start (DWPose's own heads start from small weights).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = build_model(cfg)
    device = next(model.parameters()).device
    for name in head_modules(cfg):
        getattr(model, name).load_state_dict(getattr(fresh, name).to(device).state_dict())
    for name in OUTPUT_LAYERS[cfg.name]:
        layer = model.get_submodule(name)
        nn.init.zeros_(layer.weight)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)


def frozen_copy(model: nn.Module) -> nn.Module:
    """An independent eval-mode copy with requires_grad False (the stage-1 reference)."""
    ref = copy.deepcopy(model).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


def self_kd_losses(new: PoseOutput, old: PoseOutput, num_joints: int, beta: float,
                   bones: bool = False) -> dict[str, Tensor]:
    """Stage-2 terms of the new head against the frozen stage-1 head (targets detached).

    heatmap  || H_new - H_old ||^2 per map (the KL alone is blind to a constant shift of a
             heatmap, which would move the decoder's confidence and sub-cell refinement)
    logit    KL(softmax(beta H_old) || softmax(beta H_new)) per joint
    location || clamp(H_old) (X_new - X_old) ||^2 over X, Y, Z
    bones    the same on the bone maps dX, dY, dZ, only with `bones` True: when the bone maps
             were not supervised (stage loss.bones = 0) they are an internal feature of arbitrary
             scale, and matching them would spend the short stage-2 budget on it
    Shapes: maps (B, 4J, h, w), bones (B, 3J, h, w). Each term averaged over B * J.
    """
    j = num_joints
    h_new, l_new = new.maps[:, :j].float(), new.maps[:, j:].float()
    h_old, l_old = old.maps[:, :j].float(), old.maps[:, j:].float()
    terms = {
        "self_heatmap": heatmap_mse_loss(h_new, h_old),
        "self_logit": heatmap_kl_loss(h_new, h_old, beta),
        "self_location": masked_location_distill_loss(l_new, l_old, h_old),
    }
    if bones:
        terms["self_bones"] = masked_location_distill_loss(new.bones.float(), old.bones.float(), h_old)
    return terms
