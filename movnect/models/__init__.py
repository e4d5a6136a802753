"""Network architectures: the VNect teacher, the MoVNect student and a LitePose-style student.

Every model maps a normalised image batch (B, 3, S, S), S a multiple of 16, to a `PoseOutput`:
  maps    (B, 4J, S/8, S/8)  H (J) | X (J) | Y (J) | Z (J), decoded by movnect.codec
  bones   (B, 3J, S/8, S/8)  auxiliary parent-relative bone-vector maps dX | dY | dZ
  feature (B, C, S/16, S/16) the last stride-16 feature, the one the upsampling reads (for
                             feature distillation): VNect res5b (C = 256), MoVNect Block13_b
                             (192 x width), LitePose-style last stage (120 x width)
`build_model(cfg)` is the one place that turns a config into a network.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from torch import Tensor, nn

from movnect import skeleton


class PoseOutput(NamedTuple):
    maps: Tensor
    bones: Tensor
    feature: Tensor


@dataclass(frozen=True)
class ModelConfig:
    name: Literal["vnect", "movnect", "litepose"] = "movnect"
    num_joints: int = skeleton.NUM_JOINTS
    width: float = 1.0            # channel width multiplier (students)
    depth: Literal[18, 34, 50] = 50  # ResNet depth of the teacher trunk
    kernel_size: int = 7          # depthwise kernel of the LitePose-style student

    def __post_init__(self) -> None:
        if self.num_joints < 1:
            raise ValueError("num_joints must be >= 1")
        if not 0.1 <= self.width <= 4.0:
            raise ValueError(f"width multiplier {self.width} outside [0.1, 4]")
        if self.kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd")


MODEL_NAMES = ("vnect", "movnect", "litepose")


def build_model(cfg: ModelConfig) -> nn.Module:
    """A freshly initialised network for `cfg`."""
    if cfg.name == "vnect":
        from movnect.models.teacher import VNect

        return VNect(num_joints=cfg.num_joints, depth=cfg.depth)
    elif cfg.name == "movnect":
        from movnect.models.student import MoVNect

        return MoVNect(num_joints=cfg.num_joints, width=cfg.width)
    elif cfg.name == "litepose":
        from movnect.models.student import LitePoseStudent

        return LitePoseStudent(num_joints=cfg.num_joints, width=cfg.width, kernel_size=cfg.kernel_size)
    raise ValueError(f"unknown model {cfg.name!r}; choose one of {', '.join(MODEL_NAMES)}")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
