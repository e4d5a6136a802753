"""DWPose helpers: projector, frozen backbone / fresh head of stage 2, self-KD terms."""
from __future__ import annotations

import pytest
import torch

from movnect.models import ModelConfig, PoseOutput, build_model
from teacher_student.dwpose import (
    FeatureProjector,
    StudentWithProjector,
    backbone_eval,
    feature_channels,
    freeze_backbone,
    frozen_copy,
    head_modules,
    reset_head,
    self_kd_losses,
)

CFG = ModelConfig(name="movnect", width=0.25)


def _student() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(CFG)


def test_feature_channels_of_student_and_teacher() -> None:
    assert feature_channels(_student()) == 48  # 192 x 0.25
    assert feature_channels(build_model(ModelConfig(name="vnect", depth=18))) == 256
    assert feature_channels(build_model(ModelConfig(name="litepose", width=0.5))) == 64  # 120 x 0.5 -> 64


def test_student_with_projector_maps_to_teacher_channels() -> None:
    s = _student()
    m = StudentWithProjector(s, FeatureProjector(48, 256))
    out, proj = m(torch.randn(2, 3, 64, 64))
    assert isinstance(out, PoseOutput) and proj.shape == (2, 256, 4, 4)
    assert {n.split(".")[0] for n, _ in m.named_parameters()} == {"student", "projector"}


@pytest.mark.parametrize("name", ["movnect", "litepose"])
def test_freeze_backbone_leaves_only_the_head_trainable(name: str) -> None:
    cfg = ModelConfig(name=name, width=0.25)
    model = build_model(cfg)
    freeze_backbone(model, cfg)
    heads = head_modules(cfg)
    for n, p in model.named_parameters():
        assert p.requires_grad == (n.split(".")[0] in heads), n
    model.train()
    backbone_eval(model, cfg)
    for n, child in model.named_children():
        assert child.training == (n in heads), n


def test_reset_head_changes_the_head_only_and_is_seeded() -> None:
    model = _student()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():  # make the head differ from any fresh initialisation
        for p in model.head.parameters():
            p.add_(0.5)
    reset_head(model, CFG, seed=3)
    after = model.state_dict()
    for k, v in after.items():
        if k.split(".")[0] in head_modules(CFG):
            continue
        assert torch.equal(v, before[k]), k
    assert not torch.equal(after["head.0.0.weight"], before["head.0.0.weight"] + 0.5)
    assert after["head.2.weight"].abs().sum() == 0 and after["head.2.bias"].abs().sum() == 0  # maps start at 0
    assert after["head.0.0.weight"].abs().sum() > 0
    other = _student()
    reset_head(other, CFG, seed=3)
    assert torch.equal(other.state_dict()["head.0.0.weight"], after["head.0.0.weight"])
    lite_cfg = ModelConfig(name="litepose", width=0.25)
    lite = build_model(lite_cfg)
    reset_head(lite, lite_cfg, seed=0)
    out = lite(torch.randn(1, 3, 64, 64))
    assert out.maps.abs().sum() == 0 and out.bones.abs().sum() == 0
    with pytest.raises(ValueError, match="needs a student"):
        head_modules(ModelConfig(name="vnect", depth=18))


def test_frozen_copy_is_independent_and_without_gradients() -> None:
    model = _student()
    ref = frozen_copy(model)
    assert not ref.training and not any(p.requires_grad for p in ref.parameters())
    with torch.no_grad():
        model.head[2].bias.add_(1.0)
    assert not torch.equal(ref.head[2].bias, model.head[2].bias)


def test_self_kd_losses_zero_at_the_stage1_outputs_and_positive_elsewhere() -> None:
    model = _student().eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        old = model(x)
    terms = self_kd_losses(old, old, 17, 10.0, bones=True)
    assert set(terms) == {"self_heatmap", "self_logit", "self_location", "self_bones"}
    assert "self_bones" not in self_kd_losses(old, old, 17, 10.0)
    assert all(abs(v.item()) < 1e-6 for v in terms.values())
    reset_head(model, CFG, seed=1)
    new = model(x)
    terms = self_kd_losses(new, old, 17, 10.0, bones=True)
    assert all(v.item() > 0 for v in terms.values())
    sum(terms.values()).backward()
    assert model.head[2].weight.grad is not None
