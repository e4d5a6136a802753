import pytest
import torch
from torch import nn

from movnect.models.blocks import (
    BasicBlock,
    Bottleneck,
    ConvBNAct,
    InvertedResidual,
    SepConv,
    check_input,
    init_weights,
    inverted_residual_stages,
    make_divisible,
)


@pytest.mark.parametrize(
    "value, expected",
    [(32, 32), (8.0, 8), (4.0, 8), (92.0, 96), (90.0, 88), (11.0, 16), (3.5, 8)],
)
def test_make_divisible_rounds_to_nearest_multiple_of_8_within_10_percent(value, expected):
    # 90 -> 88 (nearest, 2 % down); 11 -> nearest is 8, 27 % down, so one step up: 16.
    assert make_divisible(value) == expected


def test_make_divisible_rejects_non_positive():
    with pytest.raises(ValueError, match="positive"):
        make_divisible(0)


def test_conv_bn_act_shapes_bias_and_linear_option():
    block = ConvBNAct(8, 16, 3, stride=2)
    assert block(torch.randn(2, 8, 15, 15)).shape == (2, 16, 8, 8)  # ceil(15 / 2)
    assert block[0].bias is None and isinstance(block[1], nn.BatchNorm2d) and isinstance(block[2], nn.ReLU)
    plain = ConvBNAct(8, 16, 1, norm_layer=None, activation_layer=None)
    assert len(plain) == 1 and plain[0].bias is not None
    dw = ConvBNAct(8, 8, 5, groups=8)
    assert dw[0].weight.shape == (8, 1, 5, 5)


def test_sep_conv_is_depthwise_then_pointwise():
    sep = SepConv(12, 5, kernel_size=5)
    assert sep[0][0].groups == 12 and sep[0][0].kernel_size == (5, 5)
    assert sep[1].weight.shape == (5, 12, 1, 1)
    assert sep(torch.randn(1, 12, 9, 9)).shape == (1, 5, 9, 9)


def test_inverted_residual_structure_kernel_and_injected_layers():
    blk = InvertedResidual(16, 16, 1, 6, kernel_size=7, norm_layer=lambda c: nn.GroupNorm(1, c),
                           activation_layer=nn.Hardswish)
    assert blk.use_residual
    convs = [m for m in blk.modules() if isinstance(m, nn.Conv2d)]
    assert [tuple(c.weight.shape) for c in convs] == [(96, 16, 1, 1), (96, 1, 7, 7), (16, 96, 1, 1)]
    assert any(isinstance(m, nn.GroupNorm) for m in blk.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in blk.modules())
    assert sum(isinstance(m, nn.Hardswish) for m in blk.modules()) == 2  # the projection is linear
    no_expand = InvertedResidual(16, 24, 2, 1)
    assert not no_expand.use_residual
    assert sum(isinstance(m, nn.Conv2d) for m in no_expand.modules()) == 2
    assert no_expand(torch.randn(1, 16, 8, 8)).shape == (1, 24, 4, 4)
    with pytest.raises(ValueError, match="stride"):
        InvertedResidual(16, 16, 3, 6)


def test_inverted_residual_shortcut_is_identity_when_branch_is_silenced():
    blk = InvertedResidual(8, 8, 1, 4).eval()
    last_bn = blk.conv[-1][1]
    nn.init.zeros_(last_bn.weight)
    nn.init.zeros_(last_bn.bias)
    x = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(blk(x), x)


def test_inverted_residual_stages_follow_the_table():
    blocks, out = inverted_residual_stages(32, [(1, 16, 1, 1), (6, 24, 2, 2)], width=1.0, kernel_size=5)
    assert out == 24 and len(blocks) == 3
    assert [b.use_residual for b in blocks] == [False, False, True]
    y = nn.Sequential(*blocks)(torch.randn(1, 32, 32, 32))
    assert y.shape == (1, 24, 16, 16)
    _, out_quarter = inverted_residual_stages(8, [(6, 24, 2, 2)], width=0.25)
    assert out_quarter == 8


def test_basic_block_and_bottleneck_shapes_and_projection():
    basic = BasicBlock(64, 128, stride=2)
    assert basic.shortcut is not None and basic(torch.randn(1, 64, 8, 8)).shape == (1, 128, 4, 4)
    assert BasicBlock(64, 64).shortcut is None
    bott = Bottleneck(256, 64)
    assert bott.shortcut is None and bott.out_channels == 256
    assert Bottleneck(256, 64, force_projection=True).shortcut is not None
    wide = Bottleneck(64, 128, stride=2, out_ch=300)
    assert wide(torch.randn(1, 64, 8, 8)).shape == (1, 300, 4, 4)
    # ResNet v1.5: the stride sits on the 3x3 conv
    assert wide.conv2[0].stride == (2, 2) and wide.conv1[0].stride == (1, 1)


def test_bottleneck_is_relu_of_input_when_residual_branch_is_silenced():
    blk = Bottleneck(32, 8).eval()
    nn.init.zeros_(blk.conv3[1].weight)
    nn.init.zeros_(blk.conv3[1].bias)
    x = torch.randn(1, 32, 5, 5)
    torch.testing.assert_close(blk(x), torch.relu(x))


def test_init_weights_kaiming_fan_out_and_unit_bn():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(64, 256, 3, bias=True), nn.BatchNorm2d(256))
    nn.init.constant_(net[1].weight, 3.0)
    init_weights(net)
    expected_std = (2.0 / (256 * 9)) ** 0.5
    assert abs(net[0].weight.std().item() / expected_std - 1) < 0.05
    assert torch.all(net[0].bias == 0)
    assert torch.all(net[1].weight == 1) and torch.all(net[1].bias == 0)


def test_check_input_names_the_shape():
    with pytest.raises(ValueError, match=r"\(2, 4, 64, 64\)"):
        check_input(torch.zeros(2, 4, 64, 64))
    with pytest.raises(ValueError, match=r"multiples of 16.*\(1, 3, 64, 72\)"):
        check_input(torch.zeros(1, 3, 64, 72))
    with pytest.raises(ValueError, match=r"\(3, 64, 64\)"):
        check_input(torch.zeros(3, 64, 64))
    check_input(torch.zeros(1, 3, 32, 48))
