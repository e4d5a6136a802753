"""Image panels and skeleton figures; metrics.jsonl lines."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from movnect.train.logging import RunLogger, heatmap_panel, skeleton_figure


def test_heatmap_panel_layout() -> None:
    img = torch.full((3, 16, 16), 200.0)
    heat = torch.zeros(17, 4, 4)
    heat[3, 1, 2] = 1.0
    panel = heatmap_panel(img, heat, torch.zeros(17, 4, 4))
    assert panel.shape == (16, 48, 3) and panel.dtype == np.uint8
    assert (panel[:, :16] == 200).all()
    hot = panel[4:8, 16 + 8 : 16 + 12].astype(int).sum()
    assert hot > panel[:, 32:].astype(int).sum() / (16 * 16) * 16  # the peak is drawn brighter
    with pytest.raises(ValueError, match=r"expected image \(3, S, S\), got \(16, 16\)"):
        heatmap_panel(img[0], heat, heat)


def test_skeleton_figure_and_scalars(tmp_path: Path) -> None:
    fig = skeleton_figure(np.random.default_rng(0).normal(size=(17, 3)) * 300, np.zeros((17, 3)), "t")
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2 * 16
    log = RunLogger(tmp_path, tensorboard=False)
    log.scalars({"a": 1.5}, 3)
    assert json.loads((tmp_path / "metrics.jsonl").read_text()) == {"step": 3, "a": 1.5}
    RunLogger(tmp_path / "off", enabled=False).scalars({"a": 1}, 1)
    assert not (tmp_path / "off").exists()
