"""Training data of a run: per-source weights, and pseudo-labelled footage mixed with
synthetic rows (the loss falls)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from torch.utils.data import Dataset

from movnect.config import ConfigError
from movnect.data.pseudo_label import LabelOptions, label_inputs
from movnect.train.config import StageConfig
from movnect.train.data import Weighted
from movnect.train.run import run_training
from tests.movnect.data.test_pseudo_label import _clip
from tests.movnect.train.conftest import TINY_CONFIG


class Items(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i


def test_weighted_spreads_a_source_evenly():
    up = Weighted(Items(4), 2.5)
    assert len(up) == 10 and [up[i] for i in range(10)] == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]
    down = Weighted(Items(10), 0.3)
    assert [down[i] for i in range(len(down))] == [0, 3, 6]
    with pytest.raises(IndexError):
        up[10]


def test_source_weights_are_checked():
    with pytest.raises(ValueError, match="one positive weight per source"):
        StageConfig(sources=("h36m", "pseudo"), source_weights=(1.0,))
    with pytest.raises(ValueError, match="one positive weight per source"):
        StageConfig(sources=("h36m",), source_weights=(0.0,))


@pytest.mark.slow
def test_pseudo_labels_mixed_with_synthetic_rows(tmp_path: Path, tiny_data: list[str]) -> None:
    labels = tmp_path / "labels.h5"
    label_inputs([_clip(tmp_path / "clip.mp4", frames=8)], labels,
                 LabelOptions(teacher="blazepose-lite", crop_size=96, fov_deg=36.0))
    over = tiny_data + [f"data.pseudo={labels}", "stages.0.sources=['h36m']", "stages.0.epochs=1",
                        "stages.0.steps_per_epoch=1", "stages.1.sources=['h36m', 'pseudo']",
                        "stages.1.source_weights=[1.0, 3.0]", "stages.1.epochs=6", "stages.1.optimizer.lr=3e-3",
                        "train.val_every=0", "train.ckpt_every=0"]
    losses: list[float] = []
    summary = run_training(TINY_CONFIG, over, out=tmp_path / "run", on_step=lambda r: losses.append(r.loss))
    main3d = losses[1:]
    # 16 synthetic S1 rows + 3 x the labelled rows, batch 4, per epoch
    assert len(main3d) == 6 * ((16 + 3 * summary_rows(labels)) // 4)
    assert np.mean(main3d[-5:]) < 0.7 * np.mean(main3d[:5]), (main3d[:5], main3d[-5:])
    assert summary["steps"] == len(losses)
    with pytest.raises(ConfigError, match="data.pseudo is empty"):
        run_training(TINY_CONFIG, tiny_data + ["stages.1.sources=['pseudo']"], out=tmp_path / "bad")


def summary_rows(path: Path) -> int:
    import h5py

    with h5py.File(path, "r") as f:
        return int(f.attrs["rows"])
