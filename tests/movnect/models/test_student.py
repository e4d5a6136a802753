import pytest
import torch
from torch import nn

from movnect.models import count_parameters
from movnect.models.profile import count_macs
from movnect.models.student import LitePoseStudent, MoVNect, bone_length_l1

STUDENTS = [MoVNect, LitePoseStudent]


def tiny(cls):
    torch.manual_seed(0)
    return cls(num_joints=17, width=0.25)


# shapes, gradients, export parity and input errors of every registered model: test_models.py


@pytest.mark.parametrize("cls", STUDENTS)
def test_full_width_students_keep_the_output_shapes(cls):
    with torch.no_grad():
        out = cls(num_joints=6, width=1.0).eval()(torch.randn(1, 3, 64, 64))
    assert out.maps.shape == (1, 24, 8, 8) and out.bones.shape == (1, 18, 8, 8)


def test_movnect_parameter_count_near_the_paper():
    # The paper reports about 1.03 M parameters; our reading of "block 12" (see student.py)
    # gives 1,018,215: within 2 %.
    n = count_parameters(MoVNect(num_joints=17, width=1.0))
    assert abs(n - 1.03e6) / 1.03e6 < 0.02, n
    assert n == 1_018_215  # regression pin


def test_movnect_layer_widths_follow_the_paper():
    m = MoVNect(num_joints=17)
    assert m.backbone[-1].out_channels == 96
    a = m.block13_a
    assert [tuple(c[0].weight.shape) for c in a.conv] == [(368, 96, 1, 1), (368, 1, 3, 3), (256, 368, 1, 1)]
    assert tuple(a.shortcut[0].weight.shape) == (256, 96, 1, 1)
    assert [tuple(c[0].weight.shape) for c in m.block13_b] == [(192, 256, 1, 1), (192, 1, 3, 3), (192, 192, 1, 1)]
    assert tuple(m.block14_features[0].weight.shape) == (128, 192, 3, 3)
    assert tuple(m.block14_bones.weight.shape) == (51, 192, 3, 3)
    assert [tuple(m.head[i][0].weight.shape) for i in (0, 1)] == [(128, 128 + 68, 1, 1), (128, 1, 3, 3)]
    assert tuple(m.head[2].weight.shape) == (68, 128, 1, 1)


def test_movnect_backbone_reaches_stride_16_with_96_channels():
    m = MoVNect(num_joints=17).eval()
    with torch.no_grad():
        assert m.backbone(torch.randn(1, 3, 64, 64)).shape == (1, 96, 4, 4)


def test_bone_length_l1_values():
    j = 2
    bones = torch.zeros(1, 3 * j, 1, 1)
    bones[0, :, 0, 0] = torch.tensor([1.0, -2.0, -3.0, 0.5, 4.0, 0.0])  # dX | dY | dZ
    torch.testing.assert_close(bone_length_l1(bones, j)[0, :, 0, 0], torch.tensor([8.0, 2.5]))


def test_movnect_head_is_fed_the_bone_maps_and_their_l1_lengths():
    m = tiny(MoVNect).eval()
    captured = {}
    handle = m.head.register_forward_hook(lambda mod, args, out: captured.update(x=args[0]))
    try:
        with torch.no_grad():
            out = m(torch.randn(1, 3, 64, 64))
    finally:
        handle.remove()
    c = m.block14_features.out_channels
    x = captured["x"]
    assert x.shape[1] == c + 68
    torch.testing.assert_close(x[:, c:c + 51], out.bones)
    torch.testing.assert_close(x[:, c + 51:], bone_length_l1(out.bones, 17))


def test_width_multiplier_scales_channels_in_multiples_of_8():
    small, full = MoVNect(17, width=0.25), MoVNect(17, width=1.0)
    assert count_parameters(small) < count_parameters(full) / 5
    for m in small.modules():
        if isinstance(m, nn.Conv2d) and m.out_channels not in (51, 68):
            assert m.out_channels % 8 == 0 and m.out_channels >= 8
    assert small.block13_a.shortcut.out_channels == 64  # 256 * 0.25


def test_litepose_uses_large_depthwise_kernels_everywhere_in_its_stages():
    m = LitePoseStudent(17, kernel_size=7)
    dws = [c for c in m.stages.modules() if isinstance(c, nn.Conv2d) and c.groups > 1]
    assert len(dws) == 2 + 4 + 4 + 4
    assert all(c.kernel_size == (7, 7) for c in dws)
    assert count_macs(LitePoseStudent(17, kernel_size=3), 128) < count_macs(m, 128)
    with pytest.raises(ValueError, match="odd"):
        LitePoseStudent(17, kernel_size=4)


def test_litepose_fuses_refined_and_backbone_features():
    m = LitePoseStudent(17).eval()
    assert m.deconv_refined.in_channels == m.stages[3][-1].out_channels
    assert m.deconv_raw.in_channels == m.stages[2][-1].out_channels
    assert m.final_raw[1].out_channels == m.final_refined[1].out_channels == 7 * 17
    # Silencing the backbone path of the predictions changes the maps: both paths contribute.
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = m(x).maps
        nn.init.zeros_(m.final_raw[1].weight)
        nn.init.zeros_(m.final_raw[1].bias)
        after = m(x).maps
    assert not torch.allclose(before, after)


def test_students_compare_at_equal_compute():
    movnect = count_macs(MoVNect(17), 256)
    litepose = count_macs(LitePoseStudent(17), 256)
    assert abs(litepose - movnect) / movnect < 0.15, (movnect, litepose)


@pytest.mark.parametrize("cls", STUDENTS)
def test_bad_arguments_and_inputs(cls):
    with pytest.raises(ValueError, match="num_joints"):
        cls(0)
    with pytest.raises(ValueError, match="width"):
        cls(17, width=0.0)
