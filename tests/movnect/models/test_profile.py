import json

import pytest
import torch
from torch import nn

from movnect.models import MODEL_NAMES, ModelConfig, PoseOutput, build_model, count_parameters
from movnect.models.profile import count_macs, model_summary


class TinyNet(nn.Module):
    """Every counted layer kind once, on a 16x16 input; MACs worked out by hand below."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)           # -> 8 x 8 x 8
        self.bn = nn.BatchNorm2d(8)                                     # not counted
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)               # -> 8 x 8 x 8
        self.grouped = nn.Conv2d(8, 4, 1, groups=2)                     # -> 4 x 8 x 8
        self.up = nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1)      # -> 6 x 16 x 16
        self.fc = nn.Linear(6 * 16 * 16, 10)
        self.tokens = nn.Linear(16, 5)                                  # on (B, 6 * 16, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.up(self.grouped(self.dw(torch.relu(self.bn(self.conv(x))))))
        return self.fc(y.flatten(1)) + self.tokens(y.flatten(1, 2)).sum(dim=(1, 2))[:, None]


HAND_MACS = (
    8 * 8 * 8 * 3 * 3 * 3      # conv: H_out W_out C_out * C_in k k           = 13,824
    + 8 * 8 * 8 * 1 * 3 * 3    # depthwise: C_in / groups = 1                 =  4,608
    + 8 * 8 * 4 * 4 * 1 * 1    # grouped 1x1: C_in / groups = 4               =  1,024
    + 8 * 8 * 4 * 6 * 4 * 4    # transposed: H_in W_in C_in * C_out k k       = 24,576
    + 1536 * 10                # linear                                       = 15,360
    + 96 * 16 * 5              # linear over 96 token rows                    =  7,680
)


def test_count_macs_matches_hand_computed_values():
    assert HAND_MACS == 67_072
    assert count_macs(TinyNet(), 16) == HAND_MACS
    assert count_macs(TinyNet(), (16, 16)) == HAND_MACS


def test_count_macs_scales_with_area_and_restores_mode():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 1)).train()
    assert count_macs(net, 8) == 8 * 8 * 4 * 27 + 8 * 8 * 4 * 4
    assert count_macs(net, (16, 8)) == 2 * count_macs(net, 8)
    assert net.training
    assert not any(m._forward_hooks for m in net.modules())  # hooks removed
    with pytest.raises(ValueError, match="positive"):
        count_macs(net, 0)


def test_count_macs_of_a_conv_equals_an_explicit_multiply_count():
    # Independent count: a conv is a matrix product of unfolded patches with the weights.
    conv = nn.Conv2d(3, 5, 3, stride=2, padding=1)
    patches = nn.functional.unfold(torch.zeros(1, 3, 20, 20), 3, padding=1, stride=2)  # (1, 27, L)
    assert count_macs(nn.Sequential(conv), 20) == patches.shape[1] * patches.shape[2] * 5


class TinyPose(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        f = nn.functional.avg_pool2d(self.conv(x), 16)
        m = nn.functional.avg_pool2d(x, 8).repeat(1, 4, 1, 1)
        return PoseOutput(m, m[:, :9], f)


def test_model_summary_reports_every_field():
    s = model_summary(TinyPose(), ModelConfig(name="movnect", num_joints=3), 32)
    assert s["model"] == "movnect"
    assert s["config"]["num_joints"] == 3
    assert s["parameters"] == 16
    assert s["macs"] == 32 * 32 * 4 * 3
    assert s["input_shape"] == [1, 3, 32, 32]
    assert s["outputs"] == {"maps": [1, 12, 4, 4], "bones": [1, 9, 4, 4], "feature": [1, 4, 2, 2]}
    json.dumps(s)  # JSON-ready


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_summary_of_real_models_via_the_cli(name, capsys):
    from movnect.cli import main

    assert main(["info", "--model", name, "--width", "0.25", "--input-size", "64", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    model = build_model(ModelConfig(name=name, width=0.25))
    assert s["parameters"] == count_parameters(model)
    assert s["macs"] == count_macs(model, 64) > 0
    assert s["outputs"]["maps"] == [1, 68, 8, 8] and s["outputs"]["bones"] == [1, 51, 8, 8]
    assert s["outputs"]["feature"][2:] == [4, 4]
