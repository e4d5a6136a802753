"""Generated data for the training tests: the data package's tiny release (+ COCO set) and a
slightly larger synthetic release on which a 64 px student visibly learns in ~100 steps."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from movnect.data.h36m import PrepareOptions, prepare_h36m
from movnect.data.synthetic import SynthConfig, write_release
from tests.movnect.data.fixtures import build_tiny, build_tiny_coco

@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Training tests run torch on one thread: on the shared 2-core machine two intra-op
    threads spin-wait for each other whenever another process holds a core (measured: a
    training step 25-70x slower under load); restored afterwards for the other packages."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


ROOT = Path(__file__).resolve().parents[3]
TINY_CONFIG = Path(__file__).parent / "configs" / "tiny.toml"


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """--set overrides pointing tests/movnect/train/configs/tiny.toml at generated data."""
    h5 = build_tiny(tmp_path_factory.mktemp("tiny_release"))[1]
    coco = build_tiny_coco(tmp_path_factory.mktemp("tiny_coco"))
    return [f"data.h36m={h5}", f"data.coco={coco / 'annotations' / 'person_keypoints.json'}",
            f"data.coco_images={coco / 'images'}"]


SMALL = SynthConfig(subjects=("S1", "S9"), actions=("Walking", "Directions"), subactions=1, frames=80,
                    cameras=("54138969", "55011271"), image_size=400, seed=5)


@pytest.fixture(scope="session")
def small_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """S1 (train) and S9 (validation), 2 actions x 2 cameras x 40 rows each, 128 px crops."""
    root = tmp_path_factory.mktemp("small_release")
    write_release(root / "release", SMALL)
    return prepare_h36m(root / "release", root / "small.h5", PrepareOptions(crop_size=128, frame_step=2)).out
