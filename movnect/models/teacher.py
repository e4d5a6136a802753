"""The VNect teacher (Mehta et al., SIGGRAPH 2017): a ResNet trunk to res4f plus the VNect head.

    image (B, 3, S, S)
      stem      7x7 conv s2 -> 64, 3x3 max-pool s2                          stride 4
      res2..4   ResNet stages (table below); res4f is the last block         stride 16
      res5a     1x1 -> 512, 3x3 512, 1x1 -> 1024, projection 1x1 -> 1024, add, ReLU
      res5b     1x1 -> 256, 3x3 -> 128, 1x1 -> 256 (BN + ReLU each)          -> `feature`
      res5c     4x4 transposed conv s2 -> 128 (BN + ReLU)                    stride 8
                4x4 transposed conv s2 -> 3J: dX | dY | dZ (linear)          -> `bones`
                BL_j = sqrt(dX_j^2 + dY_j^2 + dZ_j^2 + eps)
                concat[128, dX, dY, dZ, BL] -> 3x3 conv 128 (BN + ReLU) -> 1x1 conv -> 4J
    maps (B, 4J, S/8, S/8): H | X | Y | Z, `feature` (B, 256, S/16, S/16)

Depth 50 follows the paper (the released VNect model adds its res5 head to ResNet-50's res4f).
Depths 18 and 34 (basic-block trunks ending in 256 channels at res4) are for CPU-sized
teachers: their res5a keeps the paper's 1:2 mid:out ratio at ResNet-18/34's own res5 width,
mid 256 -> out 512, instead of 512 -> 1024; res5b and res5c are the same for every depth.

`feature` is the last stride-16 feature, the res5b output that the upsampling res5c reads: it
plays the same role as the students' `feature` (their last stride-16 feature), which makes it
the natural target for feature distillation.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from movnect.models import PoseOutput
from movnect.models.blocks import BasicBlock, Bottleneck, ConvBNAct, check_input, init_weights

# ResNet stages up to res4 (stride 16): rows of (planes, n, s). The 4th ResNet stage (res5)
# is replaced by the VNect head.
RESNET_TRUNKS: dict[int, tuple[type[BasicBlock] | type[Bottleneck], list[tuple[int, int, int]]]] = {
    # planes, n, s
    18: (BasicBlock, [(64, 2, 1), (128, 2, 2), (256, 2, 2)]),
    34: (BasicBlock, [(64, 3, 1), (128, 4, 2), (256, 6, 2)]),
    50: (Bottleneck, [(64, 3, 1), (128, 4, 2), (256, 6, 2)]),  # res4a..res4f
}

# res5a (mid, out) channels per trunk depth; see the module docstring.
RES5A_WIDTHS: dict[int, tuple[int, int]] = {18: (256, 512), 34: (256, 512), 50: (512, 1024)}

BONE_LENGTH_EPS = 1e-6  # inside the sqrt: keeps d BL / d dX finite where dX = dY = dZ = 0


def bone_length_l2(bones: Tensor, num_joints: int) -> Tensor:
    """(B, 3J, h, w) [dX | dY | dZ] -> (B, J, h, w) sqrt(dX^2 + dY^2 + dZ^2 + eps)."""
    dx, dy, dz = torch.split(bones, num_joints, dim=1)
    return torch.sqrt(dx * dx + dy * dy + dz * dz + BONE_LENGTH_EPS)


class VNect(nn.Module):
    """VNect with a ResNet-`depth` trunk. Input (B, 3, S, S) normalised RGB, S a multiple of 16;
    returns PoseOutput(maps (B, 4J, S/8, S/8), bones (B, 3J, S/8, S/8), feature (B, 256, S/16, S/16))."""

    def __init__(self, num_joints: int, depth: int = 50) -> None:
        super().__init__()
        if depth not in RESNET_TRUNKS:
            raise ValueError(f"VNect depth must be one of {sorted(RESNET_TRUNKS)}, got {depth}")
        if num_joints < 1:
            raise ValueError(f"num_joints must be >= 1, got {num_joints}")
        self.num_joints = num_joints
        self.depth = depth
        j = num_joints

        block, stages = RESNET_TRUNKS[depth]
        layers: list[nn.Module] = [ConvBNAct(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)]
        in_ch = 64
        for planes, n, s in stages:
            for i in range(n):
                blk = block(in_ch, planes, s if i == 0 else 1)
                layers.append(blk)
                in_ch = blk.out_channels
        self.trunk = nn.Sequential(*layers)

        mid, out = RES5A_WIDTHS[depth]
        self.res5a = Bottleneck(in_ch, mid, 1, out_ch=out, force_projection=True)
        self.res5b = nn.Sequential(ConvBNAct(out, 256, 1), ConvBNAct(256, 128, 3), ConvBNAct(128, 256, 1))
        self.res5c_up = nn.Sequential(
            nn.ConvTranspose2d(256, 128, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True)
        )
        self.res5c_bones = nn.ConvTranspose2d(256, 3 * j, 4, stride=2, padding=1)
        self.fuse = ConvBNAct(128 + 4 * j, 128, 3)
        self.predict = nn.Conv2d(128, 4 * j, 1)
        init_weights(self)

    def forward(self, x: Tensor) -> PoseOutput:
        check_input(x)
        feature = self.res5b(self.res5a(self.trunk(x)))
        up = self.res5c_up(feature)
        bones = self.res5c_bones(feature)
        lengths = bone_length_l2(bones, self.num_joints)
        maps = self.predict(self.fuse(torch.cat([up, bones, lengths], dim=1)))
        return PoseOutput(maps, bones, feature)
