"""Building blocks shared by the teacher and the students.

All blocks take NCHW float tensors. Normalisation and activation layers are injectable as
factories (`norm_layer(num_channels)`, `activation_layer()`), in the style of torchvision's
MobileNetV2, so a block can be rebuilt with e.g. GroupNorm or Hardswish without new code.
Convolutions followed by a norm layer carry no bias (the norm's shift replaces it).
"""
from __future__ import annotations

from typing import Callable

from torch import Tensor, nn

NormLayer = Callable[[int], nn.Module]
ActLayer = Callable[[], nn.Module]


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to the nearest multiple of `divisor` (MobileNetV2's rule).

    Never rounds down by more than 10 % and never below `min_value` (default: `divisor`),
    so tiny width multipliers (0.25) still give usable layers.
    """
    if value <= 0:
        raise ValueError(f"channel count must be positive, got {value}")
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class ConvBNAct(nn.Sequential):
    """Conv2d (same padding) -> norm -> activation. `activation_layer=None` keeps it linear.

    (B, in_ch, H, W) -> (B, out_ch, ceil(H / stride), ceil(W / stride)) for odd kernels.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        norm_layer: NormLayer | None = nn.BatchNorm2d,
        activation_layer: ActLayer | None = nn.ReLU,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding=(kernel_size - 1) // 2,
                      groups=groups, bias=norm_layer is None)
        ]
        if norm_layer is not None:
            layers.append(norm_layer(out_ch))
        if activation_layer is not None:
            layers.append(activation_layer())
        super().__init__(*layers)
        self.out_channels = out_ch


class SepConv(nn.Sequential):
    """Depthwise k x k (norm + ReLU) then a pointwise 1x1 conv with bias, linear output.

    LitePose's prediction layer: a cheap large receptive field ahead of a per-pixel readout.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 5,
                 norm_layer: NormLayer = nn.BatchNorm2d, activation_layer: ActLayer = nn.ReLU) -> None:
        super().__init__(
            ConvBNAct(in_ch, in_ch, kernel_size, groups=in_ch, norm_layer=norm_layer,
                      activation_layer=activation_layer),
            nn.Conv2d(in_ch, out_ch, 1, bias=True),
        )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (x t) -> k x k depthwise (stride) -> 1x1 linear project.

    The expansion conv is skipped when t == 1; the identity shortcut is added when the block
    keeps resolution and width (stride 1, in_ch == out_ch).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int,
        expand_ratio: float,
        kernel_size: int = 3,
        norm_layer: NormLayer = nn.BatchNorm2d,
        activation_layer: ActLayer = nn.ReLU6,
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        hidden = int(round(in_ch * expand_ratio))
        self.use_residual = stride == 1 and in_ch == out_ch
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNAct(in_ch, hidden, 1, norm_layer=norm_layer, activation_layer=activation_layer))
        layers += [
            ConvBNAct(hidden, hidden, kernel_size, stride, groups=hidden, norm_layer=norm_layer,
                      activation_layer=activation_layer),
            ConvBNAct(hidden, out_ch, 1, norm_layer=norm_layer, activation_layer=None),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = out_ch

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        return x + y if self.use_residual else y


def inverted_residual_stages(
    in_ch: int,
    setting: list[tuple[float, int, int, int]],
    width: float,
    kernel_size: int = 3,
    norm_layer: NormLayer = nn.BatchNorm2d,
    activation_layer: ActLayer = nn.ReLU6,
) -> tuple[list[nn.Module], int]:
    """Blocks for a MobileNetV2 table of rows `(t, c, n, s)`: n blocks of expansion t and
    width c * width (rounded to 8); the first block of a row has stride s.
    Returns (blocks, output channels)."""
    blocks: list[nn.Module] = []
    for t, c, n, s in setting:
        out_ch = make_divisible(c * width)
        for i in range(n):
            blocks.append(InvertedResidual(in_ch, out_ch, s if i == 0 else 1, t, kernel_size,
                                           norm_layer, activation_layer))
            in_ch = out_ch
    return blocks, in_ch


class BasicBlock(nn.Module):
    """ResNet-18/34 block: 3x3 (stride) -> 3x3, plus identity or 1x1 projection; ReLU after the add.

    (B, in_ch, H, W) -> (B, planes, H / stride, W / stride).
    """

    expansion = 1

    def __init__(self, in_ch: int, planes: int, stride: int = 1, norm_layer: NormLayer = nn.BatchNorm2d) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(in_ch, planes, 3, stride, norm_layer=norm_layer)
        self.conv2 = ConvBNAct(planes, planes, 3, norm_layer=norm_layer, activation_layer=None)
        self.shortcut = _projection(in_ch, planes, stride, norm_layer)
        self.relu = nn.ReLU(inplace=True)
        self.out_channels = planes

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        return self.relu(self.conv2(self.conv1(x)) + identity)


class Bottleneck(nn.Module):
    """ResNet-50 block: 1x1 -> 3x3 (stride, as in torchvision's "ResNet v1.5") -> 1x1 (x4 wide),
    plus identity or 1x1 projection (always a projection with `force_projection`, as in VNect's
    res5a); ReLU after the add.

    (B, in_ch, H, W) -> (B, out_ch, H / stride, W / stride), out_ch = planes * 4 unless given.
    """

    expansion = 4

    def __init__(self, in_ch: int, planes: int, stride: int = 1, norm_layer: NormLayer = nn.BatchNorm2d,
                 out_ch: int | None = None, force_projection: bool = False) -> None:
        super().__init__()
        out_ch = planes * self.expansion if out_ch is None else out_ch
        self.conv1 = ConvBNAct(in_ch, planes, 1, norm_layer=norm_layer)
        self.conv2 = ConvBNAct(planes, planes, 3, stride, norm_layer=norm_layer)
        self.conv3 = ConvBNAct(planes, out_ch, 1, norm_layer=norm_layer, activation_layer=None)
        self.shortcut = _projection(in_ch, out_ch, stride, norm_layer, force_projection)
        self.relu = nn.ReLU(inplace=True)
        self.out_channels = out_ch

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        return self.relu(self.conv3(self.conv2(self.conv1(x))) + identity)


def _projection(in_ch: int, out_ch: int, stride: int, norm_layer: NormLayer,
                force: bool = False) -> nn.Module | None:
    """1x1 conv + norm shortcut where the shape changes (or when forced), else None (identity)."""
    if stride == 1 and in_ch == out_ch and not force:
        return None
    return ConvBNAct(in_ch, out_ch, 1, stride, norm_layer=norm_layer, activation_layer=None)


def init_weights(model: nn.Module) -> None:
    """Kaiming-normal (fan_out, ReLU gain) convolutions, zero biases, norm gamma 1 / beta 0,
    Linear N(0, 0.01). Uses torch's global RNG: seed it for reproducible weights."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def check_input(x: Tensor, multiple: int = 16) -> None:
    """Raise ValueError unless x is an image batch (B, 3, H, W) with H and W multiples of
    `multiple` (the network's largest stride, so every skip and upsampling lines up)."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected an image batch (B, 3, H, W), got shape {tuple(x.shape)}")
    if x.shape[2] % multiple or x.shape[3] % multiple:
        raise ValueError(f"input height and width must be multiples of {multiple}, got shape {tuple(x.shape)}")
