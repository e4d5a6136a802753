"""Students: MoVNect (Hwang et al., WACV 2020) and a LitePose-style variant (Wang et al., CVPR 2022).

Both map (B, 3, S, S) normalised RGB (S a multiple of 16) to PoseOutput(maps (B, 4J, S/8, S/8),
bones (B, 3J, S/8, S/8), feature (B, C, S/16, S/16)); `feature` is the last stride-16 feature.
Channel counts below are at width 1.0; a width multiplier scales every internal width,
rounded to a multiple of 8 (never below 8). The output widths 3J and 4J are not scaled.

MoVNect
    stem        3x3 conv s2 -> 32                                    stride 2
    blocks 1-12 MobileNetV2 inverted residuals (table below)        stride 16, 96 channels
    Block13_a   1x1 -> 368 ReLU, 3x3 dw 368 ReLU, 1x1 -> 256 linear; shortcut 1x1 -> 256 linear;
                add; ReLU
    Block13_b   1x1 -> 192 ReLU, 3x3 dw 192 ReLU, 1x1 -> 192 ReLU            -> `feature`
    Block14     bilinear x2 upsample, then 3x3 conv -> 128 ReLU, and 3x3 conv -> 3J (dX | dY | dZ,
                linear) -> `bones`; BL_j = |dX_j| + |dY_j| + |dZ_j| (L1, cheaper than VNect's L2)
    head        concat[128, 3J, J] -> 1x1 -> 128 ReLU -> 3x3 dw 128 ReLU -> 1x1 -> 4J maps

"Block 12", read against the paper's 1.03 M parameters. MobileNetV2 has 17 inverted-residual
blocks; the paper keeps the first 12 and names its own blocks 13 and 14, so the blocks are
counted from 1 with the t = 1 block as block 1. Block 12 is then the SECOND of the three
96-channel blocks (torchvision's features[12]). Keras names the t = 1 block `expanded_conv`
and numbers from there, which would make `block_12` the third 96-channel block; that reading
gives 1,136,487 parameters at width 1.0 and 17 joints (+10 % over the paper), ours 1,018,215
(-1.1 %; 1,036,263, +0.6 %, if BatchNorm running statistics are counted as Keras does). We
take ours.
The MobileNetV2 trunk keeps its ReLU6; the MoVNect blocks use ReLU as the paper draws them.

LitePose-style student (`LitePoseStudent`)
    stem        3x3 conv s2 -> 32, 3x3 dw 32, 1x1 -> 16 linear (LitePose's stem)   stride 2
    stages      inverted residuals with k x k depthwise kernels (k = 7 by default: LitePose
                found large kernels worth +13 mAP for +25 % compute in pose, 9x9 worse)
    fusion      deconv stage 16 -> 8: 4x4 transposed conv s2 of the refined (last stage)
                feature + 4x4 transposed conv s2 of the backbone feature of the same
                resolution (stage 3), summed, BN + ReLU
    predict     SepConv5x5(refined, stride 8) + SepConv5x5(backbone stage 2, stride 8)
                -> 7J channels split into maps 4J | bones 3J
It has no bone-length input to its maps: LitePose predicts every map with the same fused
layer; the bone maps remain an auxiliary output (supervised like MoVNect's).
Its widths (table below, deconv 96 channels) are chosen so that at width 1.0 and 17 joints its
MACs at 256 x 256 match MoVNect's: 644.6 M vs 659.7 M (-2.3 %), with 1.57 M parameters (the
7x7 depthwise kernels and the stride-8 predictions spend compute, not parameters); measured
with movnect.models.profile.count_macs. Equal compute makes the comparison like for like.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from movnect.models import PoseOutput
from movnect.models.blocks import (
    ConvBNAct,
    SepConv,
    check_input,
    init_weights,
    inverted_residual_stages,
    make_divisible,
)

# MobileNetV2 blocks 1..12 (see the module docstring for the reading of "block 12").
MOVNECT_BACKBONE: list[tuple[float, int, int, int]] = [
    # t, c, n, s
    (1, 16, 1, 1),   # block 1                  stride 2
    (6, 24, 2, 2),   # blocks 2-3               stride 4
    (6, 32, 3, 2),   # blocks 4-6               stride 8
    (6, 64, 4, 2),   # blocks 7-10              stride 16
    (6, 96, 2, 1),   # blocks 11-12             stride 16
]

# LitePose-style backbone: stages 2 and 3 feed the fusion head (see LitePoseStudent).
LITEPOSE_BACKBONE: list[tuple[float, int, int, int]] = [
    # t, c, n, s
    (6, 24, 2, 2),   # stage 1                  stride 4
    (6, 40, 4, 2),   # stage 2                  stride 8   -> raw feature of the predictions
    (6, 80, 4, 2),   # stage 3                  stride 16  -> raw feature of the deconv
    (6, 120, 4, 1),  # stage 4                  stride 16  -> refined feature, `feature`
]
LITEPOSE_DECONV_CHANNELS = 96


def bone_length_l1(bones: Tensor, num_joints: int) -> Tensor:
    """(B, 3J, h, w) [dX | dY | dZ] -> (B, J, h, w) |dX| + |dY| + |dZ|."""
    dx, dy, dz = torch.split(bones, num_joints, dim=1)
    return dx.abs() + dy.abs() + dz.abs()


class Block13a(nn.Module):
    """MoVNect's Block13_a: a depthwise-separable bottleneck with a linear 1x1 projection
    shortcut; ReLU after the add. (B, in_ch, H, W) -> (B, out_ch, H, W)."""

    def __init__(self, in_ch: int, hidden: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            ConvBNAct(in_ch, hidden, 1),
            ConvBNAct(hidden, hidden, 3, groups=hidden),
            ConvBNAct(hidden, out_ch, 1, activation_layer=None),
        )
        self.shortcut = ConvBNAct(in_ch, out_ch, 1, activation_layer=None)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.conv(x) + self.shortcut(x))


class MoVNectStages(nn.Module):
    """MoVNect's own stages after the MobileNetV2 trunk: Block13_a, Block13_b, Block14 and the head.

    The one forward of those stages, shared by MoVNect and by OKDHP's branches
    (teacher_student/okdhp.py), which own the same modules under the same attribute names so that
    a branch joined to the trunk IS a MoVNect. Subclasses set the attributes below.
    """

    num_joints: int
    block13_a: Block13a
    block13_b: nn.Sequential
    block14_features: ConvBNAct
    block14_bones: nn.Conv2d
    head: nn.Sequential

    def stages(self, trunk: Tensor) -> PoseOutput:
        """(B, C, S/16, S/16) trunk feature -> PoseOutput(maps (B, 4J, S/8, S/8), bones (B, 3J,
        S/8, S/8), feature (B, 192w, S/16, S/16))."""
        feature = self.block13_b(self.block13_a(trunk))
        # Both Block14 branches upsample the same tensor: interpolate once.
        up = F.interpolate(feature, scale_factor=2.0, mode="bilinear", align_corners=False)
        features = self.block14_features(up)
        bones = self.block14_bones(up)
        lengths = bone_length_l1(bones, self.num_joints)
        maps = self.head(torch.cat([features, bones, lengths], dim=1))
        return PoseOutput(maps, bones, feature)


class MoVNect(MoVNectStages):
    """The MoVNect student (see the module docstring for the layer table)."""

    def __init__(self, num_joints: int, width: float = 1.0) -> None:
        super().__init__()
        if num_joints < 1:
            raise ValueError(f"num_joints must be >= 1, got {num_joints}")
        if width <= 0:
            raise ValueError(f"width multiplier must be positive, got {width}")
        self.num_joints = j = num_joints

        def w(c: int) -> int:
            return make_divisible(c * width)

        stem = ConvBNAct(3, w(32), 3, 2, activation_layer=nn.ReLU6)
        blocks, ch = inverted_residual_stages(w(32), MOVNECT_BACKBONE, width)
        self.backbone = nn.Sequential(stem, *blocks)
        self.block13_a = Block13a(ch, w(368), w(256))
        self.block13_b = nn.Sequential(
            ConvBNAct(w(256), w(192), 1),
            ConvBNAct(w(192), w(192), 3, groups=w(192)),
            ConvBNAct(w(192), w(192), 1),
        )
        self.block14_features = ConvBNAct(w(192), w(128), 3)
        self.block14_bones = nn.Conv2d(w(192), 3 * j, 3, padding=1)
        self.head = nn.Sequential(
            ConvBNAct(w(128) + 4 * j, w(128), 1),
            ConvBNAct(w(128), w(128), 3, groups=w(128)),
            nn.Conv2d(w(128), 4 * j, 1),
        )
        init_weights(self)

    def forward(self, x: Tensor) -> PoseOutput:
        check_input(x)
        return self.stages(self.backbone(x))


class LitePoseStudent(nn.Module):
    """LitePose-style student: large-kernel MobileNetV2 stages and a fusion-deconv head
    (see the module docstring). `kernel_size` is the depthwise kernel of every stage block."""

    def __init__(self, num_joints: int, width: float = 1.0, kernel_size: int = 7) -> None:
        super().__init__()
        if num_joints < 1:
            raise ValueError(f"num_joints must be >= 1, got {num_joints}")
        if width <= 0:
            raise ValueError(f"width multiplier must be positive, got {width}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
        self.num_joints = j = num_joints

        def w(c: int) -> int:
            return make_divisible(c * width)

        self.stem = nn.Sequential(
            ConvBNAct(3, w(32), 3, 2),
            ConvBNAct(w(32), w(32), 3, groups=w(32)),
            ConvBNAct(w(32), w(16), 1, activation_layer=None),
        )
        stages: list[nn.Module] = []
        channels: list[int] = []
        ch = w(16)
        for row in LITEPOSE_BACKBONE:
            blocks, ch = inverted_residual_stages(ch, [row], width, kernel_size)
            stages.append(nn.Sequential(*blocks))
            channels.append(ch)
        self.stages = nn.ModuleList(stages)
        deconv = w(LITEPOSE_DECONV_CHANNELS)
        self.deconv_refined = nn.ConvTranspose2d(channels[3], deconv, 4, stride=2, padding=1, bias=False)
        self.deconv_raw = nn.ConvTranspose2d(channels[2], deconv, 4, stride=2, padding=1, bias=False)
        self.deconv_bn_relu = nn.Sequential(nn.BatchNorm2d(deconv), nn.ReLU(inplace=True))
        self.final_refined = SepConv(deconv, 7 * j, 5)
        self.final_raw = SepConv(channels[1], 7 * j, 5)
        init_weights(self)

    def forward(self, x: Tensor) -> PoseOutput:
        check_input(x)
        s1 = self.stages[0](self.stem(x))
        s2 = self.stages[1](s1)
        s3 = self.stages[2](s2)
        feature = self.stages[3](s3)
        refined = self.deconv_bn_relu(self.deconv_refined(feature) + self.deconv_raw(s3))
        out = self.final_refined(refined) + self.final_raw(s2)
        maps, bones = torch.split(out, [4 * self.num_joints, 3 * self.num_joints], dim=1)
        return PoseOutput(maps, bones, feature)
