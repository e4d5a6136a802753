"""build_model and the contract every registered model keeps (timm-style: forward shapes, no NaN,
every parameter gets a gradient, export parity, shape errors), looped over MODEL_NAMES so a new
model name is tested the moment it is registered. Architecture details: test_student.py,
test_teacher.py."""
import pytest
import torch

from movnect.models import MODEL_NAMES, ModelConfig, PoseOutput, build_model
from movnect.models.student import LitePoseStudent, MoVNect
from movnect.models.teacher import VNect


def small(name: str, num_joints: int = 17) -> torch.nn.Module:
    """The registered model `name` at its smallest: width 0.25 (students), ResNet-18 (teacher)."""
    torch.manual_seed(0)
    return build_model(ModelConfig(name=name, num_joints=num_joints, width=0.25, depth=18))  # type: ignore[arg-type]


def test_build_model_builds_each_name_with_its_config():
    vnect = build_model(ModelConfig(name="vnect", depth=18, num_joints=5))
    assert isinstance(vnect, VNect) and vnect.depth == 18 and vnect.num_joints == 5
    assert isinstance(build_model(ModelConfig(name="movnect", width=0.25)), MoVNect)
    lite = build_model(ModelConfig(name="litepose", width=0.25, kernel_size=5))
    assert isinstance(lite, LitePoseStudent)
    assert lite.stages[0][0].conv[1][0].kernel_size == (5, 5)
    assert set(MODEL_NAMES) == {"vnect", "movnect", "litepose"}


def test_build_model_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"unknown model 'resnet'.*vnect, movnect, litepose"):
        build_model(ModelConfig(name="resnet"))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_outputs_pose_maps_at_two_input_sizes(name):
    model = small(name, num_joints=6).eval()
    with torch.no_grad():
        for h, w in ((64, 64), (96, 128)):
            out = model(torch.randn(2, 3, h, w))
            assert isinstance(out, PoseOutput)
            assert out.maps.shape == (2, 24, h // 8, w // 8)
            assert out.bones.shape == (2, 18, h // 8, w // 8)
            assert out.feature.shape[0] == 2 and out.feature.shape[2:] == (h // 16, w // 16)
            assert all(torch.isfinite(t).all() for t in out)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_parameter_of_every_model_receives_a_gradient(name):
    model = small(name).train()
    out = model(torch.randn(2, 3, 64, 64))
    sum(t.square().mean() for t in out).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_exports_and_matches_eager(name):
    model = small(name).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        eager = model(x)
        exported = torch.export.export(model, (x,)).module()(x)
    for a, b in zip(eager, exported):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_rebuilds_from_its_config(name):
    """A checkpoint holds the config and the weights: the same config builds the same shapes."""
    model = small(name)
    again = build_model(ModelConfig(name=name, width=0.25, depth=18))  # type: ignore[arg-type]
    again.load_state_dict(model.state_dict())  # strict: same names and shapes
    model.eval(), again.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(again(x).maps, model(x).maps)


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("shape", [(1, 1, 64, 64), (1, 3, 60, 60)])
def test_every_model_names_a_wrong_input_shape(name, shape):
    with pytest.raises(ValueError, match=rf"shape \({', '.join(map(str, shape))}\)"):
        small(name)(torch.zeros(shape))
