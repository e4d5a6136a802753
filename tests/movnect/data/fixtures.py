"""A tiny synthetic release and its HDF5 file, built once per test session (shared by tests)."""
from __future__ import annotations

from pathlib import Path

from movnect.data.h36m import PrepareOptions, prepare_h36m
from movnect.data.synthetic import SynthConfig, write_release
from movnect.data.synthetic.coco import CocoSynthConfig, write_coco

TINY = SynthConfig(subjects=("S1", "S9"), actions=("Walking", "Directions"), subactions=1, frames=20,
                   cameras=("54138969", "55011271"), image_size=400, seed=3)


def build_tiny(root: Path, frame_step: int = 5) -> tuple[Path, Path]:
    """(release folder, prepared HDF5) under `root`; 2 subjects x 2 actions x 2 cameras x 4 rows."""
    release, h5 = root / "release", root / "tiny.h5"
    if not h5.exists():
        write_release(release, TINY)
        prepare_h36m(release, h5, PrepareOptions(frame_step=frame_step, workers=1))
    return release, h5


# Known damaged takes, reproduced by the generator: S9 Greeting (subaction 2) gets a mocap half as
# long as its videos, S11 Directions.54138969 (subaction 2) an unreadable video.
QUIRKS = SynthConfig(subjects=("S9", "S11"), actions=("Greeting", "Directions"), subactions=2, frames=8,
                     cameras=("54138969", "55011271"), image_size=64, seed=2)


def build_quirks(root: Path) -> Path:
    """The QUIRKS release under `root` (16 videos of 8 frames, 64 px)."""
    if not (root / "S9").exists():
        write_release(root, QUIRKS)
    return root


TINY_COCO = CocoSynthConfig(images=4, image_size=256, second_person_prob=0.5, seed=11)


def build_tiny_coco(root: Path) -> Path:
    """A 4-image synthetic COCO-format keypoint set under `root` (images/, annotations/)."""
    if not (root / "annotations" / "person_keypoints.json").exists():
        write_coco(root, TINY_COCO)
    return root
