"""Shared fixtures: a tiny MoVNect student briefly trained on drawn stick figures (so its
heatmaps have distinct peaks and joint errors mean something), its checkpoint, test frames,
and each export made once per session (conversions take seconds)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch

from movnect.checkpoint import save_checkpoint
from movnect.codec import Codec, CodecConfig
from movnect.models import ModelConfig, build_model
from mobile_export.export import ExportOptions, ExportResult, export_model
from mobile_export.frames import stick_figure_frames

SIZE = 64  # crop side: maps 8 x 8, conversions stay quick


@pytest.fixture(scope="session")
def trained() -> tuple[torch.nn.Module, ModelConfig, Codec]:
    """A width-0.25 student fitted for 50 Adam steps to 16 stick figures at 64 x 64."""
    torch.manual_seed(0)
    codec = Codec(CodecConfig(input_size=SIZE))
    cfg = ModelConfig(name="movnect", width=0.25)
    model = build_model(cfg)
    frames, j2 = stick_figure_frames(SIZE, 16, seed=1)
    rng = np.random.default_rng(0)
    j3 = torch.from_numpy(rng.normal(0, 300, (16, 17, 3)).astype(np.float32))
    j3 = j3 - j3[:, :1]
    x = codec.normalize(torch.from_numpy(frames).permute(0, 3, 1, 2))
    heat, loc = codec.encode(torch.from_numpy(j2), j3)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(50):
        h, l = codec.split(model(x).maps)
        loss = 10 * ((h - heat) ** 2).mean() + ((l - loc) ** 2 * heat.repeat(1, 3, 1, 1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), cfg, codec


@pytest.fixture(scope="session")
def ckpt(trained, tmp_path_factory) -> Path:
    model, cfg, codec = trained
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, model, cfg, codec)
    return path


@pytest.fixture(scope="session")
def frames() -> np.ndarray:
    """8 of the stick-figure crops the model was fitted to, (8, 64, 64, 3) uint8: its heatmaps
    have clear peaks there, so most joints take part in the joint-error checks."""
    return stick_figure_frames(SIZE, 16, seed=1)[0][:8]


class Exports:
    """Each named export made on first use and kept for the session."""

    RECIPES: dict[str, ExportOptions] = {
        "tflite": ExportOptions("tflite"),
        "tflite_decode": ExportOptions("tflite", decode=True),
        "onnx": ExportOptions("onnx"),
        "onnx_decode": ExportOptions("onnx", decode=True),
        "coreml": ExportOptions("coreml"),  # fp16, image input, maps
        "coreml_int8_decode": ExportOptions("coreml", precision="int8", decode=True, coreml_input="tensor"),
    }

    def __init__(self, trained: Any, root: Path) -> None:
        self.model, self.cfg, self.codec = trained
        self.root = root
        self.done: dict[str, ExportResult] = {}

    def __call__(self, name: str) -> ExportResult:
        if name not in self.done:
            self.done[name] = export_model(self.model, self.cfg, self.codec, self.root / name,
                                           self.RECIPES[name], source="tiny.pt")
        return self.done[name]


@pytest.fixture(scope="session")
def exports(trained, tmp_path_factory) -> Callable[[str], ExportResult]:
    return Exports(trained, tmp_path_factory.mktemp("exports"))


@pytest.fixture(scope="session")
def reference(trained) -> Callable[[np.ndarray], Any]:
    """PyTorch maps (N, 4J, h, w) and Python-decoded joints for uint8 crops."""
    from mobile_export.verify import reference_maps

    model, _cfg, codec = trained

    def run(crops: np.ndarray) -> tuple[np.ndarray, Any]:
        maps = reference_maps(model, codec, crops)
        return maps, codec.decode(torch.from_numpy(maps))

    return run

