"""Resuming (movnect.train.resume): RNG capture/restore, model-config checks, weights-only refusal."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from movnect.checkpoint import CheckpointError, save_checkpoint
from movnect.codec import Codec, CodecConfig
from movnect.models import ModelConfig, build_model
from movnect.train import resume as ck


def test_rng_round_trip() -> None:
    state = ck.capture_rng()
    a = (random.random(), float(np.random.rand()), float(torch.rand(())))
    random.random(), np.random.rand(), torch.rand(5)
    ck.restore_rng(state)
    assert (random.random(), float(np.random.rand()), float(torch.rand(()))) == a


def test_rng_state_survives_a_weights_only_load(tmp_path: Path) -> None:
    """RNG states are tensors and plain data: the file has nothing outside the default allow-list."""
    torch.save({"rng": ck.capture_rng()}, tmp_path / "r.pt")
    assert torch.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "r.pt") == []
    state = torch.load(tmp_path / "r.pt", weights_only=True)["rng"]
    a = (random.random(), float(np.random.rand()), float(np.random.randn()), float(torch.rand(())))
    ck.restore_rng(state)
    assert (random.random(), float(np.random.rand()), float(np.random.randn()), float(torch.rand(()))) == a
    old = dict(state, numpy=np.random.get_state())  # the tuple form of older checkpoints
    ck.restore_rng(old)


def test_model_config_mismatch_names_the_fields() -> None:
    ckpt = {"model_config": {"name": "movnect", "num_joints": 17, "width": 0.5, "depth": 50, "kernel_size": 7}}
    ck.check_model_config(ckpt, ModelConfig(name="movnect", width=0.5), "x")
    with pytest.raises(CheckpointError, match=r"x does not match the model config \(name: checkpoint 'movnect' vs config 'vnect'\)"):
        ck.check_model_config(ckpt, ModelConfig(name="vnect", width=0.5), "x")


def test_weights_only_checkpoint_cannot_be_resumed(tmp_path: Path) -> None:
    cfg = ModelConfig(name="movnect", width=0.35)
    save_checkpoint(tmp_path / "w.pt", build_model(cfg), cfg, Codec(CodecConfig(input_size=64)))
    with pytest.raises(CheckpointError, match="weights only, no training state"):
        ck.read_training_checkpoint(tmp_path / "w.pt", cfg)
