import pytest
import torch

from movnect.models import PoseOutput, count_parameters
from movnect.models.teacher import VNect, bone_length_l2


@pytest.fixture(scope="module")
def vnect18():
    torch.manual_seed(0)
    return VNect(num_joints=17, depth=18)


@pytest.mark.parametrize("depth, channels", [(18, 256), (34, 256), (50, 256)])
def test_output_shapes_at_two_input_sizes(depth, channels):
    model = VNect(num_joints=5, depth=depth).eval()
    with torch.no_grad():
        for size in (64, 96):
            out = model(torch.randn(1, 3, size, size))
            assert isinstance(out, PoseOutput)
            assert out.maps.shape == (1, 20, size // 8, size // 8)
            assert out.bones.shape == (1, 15, size // 8, size // 8)
            assert out.feature.shape == (1, channels, size // 16, size // 16)
            assert all(torch.isfinite(t).all() for t in out)


def test_trunk_ends_at_res4f_with_paper_widths():
    model = VNect(num_joints=17, depth=50)
    blocks = [m for m in model.trunk if hasattr(m, "out_channels") and type(m).__name__ == "Bottleneck"]
    assert len(blocks) == 3 + 4 + 6  # res2a-c, res3a-d, res4a-f
    assert blocks[-1].out_channels == 1024
    convs = [model.res5a.conv1[0], model.res5a.conv2[0], model.res5a.conv3[0], model.res5a.shortcut[0]]
    assert [tuple(c.weight.shape[:2]) for c in convs] == [(512, 1024), (512, 512), (1024, 512), (1024, 1024)]
    assert [tuple(b[0].weight.shape[:2]) for b in model.res5b] == [(256, 1024), (128, 256), (256, 128)]
    assert model.res5c_up[0].kernel_size == (4, 4) and model.res5c_up[0].stride == (2, 2)
    assert model.res5c_bones.out_channels == 51 and model.predict.out_channels == 68


def test_parameter_count_near_the_paper():
    # VNect reports 14.6 M parameters for its released 21-joint model.
    n = count_parameters(VNect(num_joints=21, depth=50))
    assert abs(n - 14.6e6) / 14.6e6 < 0.01, n
    assert count_parameters(VNect(num_joints=17, depth=50)) == 14_565_303  # regression pin


def test_bone_length_l2_values_and_finite_gradient_at_zero():
    j = 2
    bones = torch.zeros(1, 3 * j, 1, 2)
    bones[0, [0, 2, 4], 0, 0] = torch.tensor([3.0, 4.0, 12.0])  # joint 0: (3, 4, 12) -> 13
    bones.requires_grad_(True)
    bl = bone_length_l2(bones, j)
    assert bl.shape == (1, j, 1, 2)
    assert abs(bl[0, 0, 0, 0].item() - 13.0) < 1e-5
    assert bl[0, 1].max().item() < 1e-2  # zero vectors -> sqrt(eps)
    bl.sum().backward()
    assert torch.isfinite(bones.grad).all()
    assert abs(bones.grad[0, 0, 0, 0].item() - 3.0 / 13.0) < 1e-5


def test_maps_are_fed_the_bone_maps_and_their_l2_lengths(vnect18):
    captured = {}
    handle = vnect18.fuse.register_forward_hook(lambda m, args, out: captured.update(x=args[0]))
    try:
        with torch.no_grad():
            out = vnect18.eval()(torch.randn(1, 3, 64, 64))
    finally:
        handle.remove()
    x = captured["x"]
    assert x.shape[1] == 128 + 4 * 17
    torch.testing.assert_close(x[:, 128:128 + 51], out.bones)
    torch.testing.assert_close(x[:, 128 + 51:], bone_length_l2(out.bones, 17))


# gradients, export parity and input errors of every registered model: test_models.py


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="depth"):
        VNect(17, depth=101)
    with pytest.raises(ValueError, match="num_joints"):
        VNect(0, depth=18)
