"""Datasets of a run, built from its [data] table and each stage's `sources`.

Sources: "h36m" (H36MDataset over data.h36m, train subjects and frame step, augmented),
"pseudo" (H36MDataset over data.pseudo, every row of a `movnect label` file: the teacher's
2D and 3D, joints below its confidence threshold masked), "coco" and "mpii" (2D-only
CocoKeypoints / MpiiKeypoints, augmented), "unlabelled" (UnlabelledCrops over data.unlabelled,
a `movnect crops` file: no label at all, mask2d and has3d 0, so only a distillation teacher
supervises it; `check_sources` refuses it for runs without one). A stage with several sources trains on their
concatenation: each epoch visits every sample of every source once, or, with the stage's
`source_weights`, round(w x size) samples of each source spread evenly over it (`Weighted`).
The validation set is the un-augmented H36MDataset of the validation subjects and frame step,
read from data.h36m_val (default: the training file data.h36m).

Training sets are built with seed=None: their augmentation then draws from numpy's global
RNG, which the loop's SeededDataset seeds per sample from (run seed, epoch, index), so the
augmentation of a sample does not depend on workers or on interruptions.
"""
from __future__ import annotations

from pathlib import Path

from torch.utils.data import ConcatDataset, Dataset

from movnect.codec import Codec
from movnect.config import ConfigError
from movnect.data.dataset import H36MDataset
from movnect.data.keypoints2d import CocoKeypoints, MpiiKeypoints
from movnect.data.transforms import NO_AUGMENT
from movnect.data.unlabelled import UnlabelledCrops
from movnect.train.config import ExperimentConfig


def _need(value: str, key: str, source: str) -> Path:
    if not value:
        raise ConfigError(f"a stage uses source {source!r} but data.{key} is empty")
    return Path(value)


class Weighted(Dataset):
    """A source shown `weight` times per epoch: round(weight x len) items, item i being the
    source's item floor(i x len / new_len) (a deterministic, even spread; weight < 1 subsamples)."""

    def __init__(self, source: Dataset, weight: float) -> None:
        self.source, self.n = source, len(source)  # type: ignore[arg-type]
        self.length = max(1, round(weight * self.n))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        if not 0 <= i < self.length:
            raise IndexError(f"index {i} out of range for {self.length} samples")
        return self.source[i * self.n // self.length]


def build_source(exp: ExperimentConfig, codec: Codec, source: str) -> Dataset:
    """The augmented training dataset of one source."""
    d = exp.data
    if source == "h36m":
        return H36MDataset(_need(d.h36m, "h36m", source), codec, tuple(d.train_subjects),
                           d.train_frame_step, d.augment, seed=None)
    if source == "pseudo":
        return H36MDataset(_need(d.pseudo, "pseudo", source), codec, None, 1, d.augment, seed=None)
    if source == "coco":
        return CocoKeypoints(_need(d.coco, "coco", source), _need(d.coco_images, "coco_images", source),
                             codec, d.augment, seed=None)
    if source == "mpii":
        return MpiiKeypoints(_need(d.mpii, "mpii", source), _need(d.mpii_images, "mpii_images", source),
                             codec, d.augment, seed=None)
    if source == "unlabelled":
        return UnlabelledCrops(_need(d.unlabelled, "unlabelled", source), codec, d.augment, seed=None)
    raise ConfigError(f"unknown data source {source!r}; choose h36m, pseudo, coco, mpii or unlabelled")


TEACHER_ONLY_SOURCES = ("unlabelled",)


def check_sources(exp: ExperimentConfig, teacher: str) -> None:
    """Refuse (ConfigError, one line) a stage with a label-free source in a run whose `teacher`
    ("" = supervised training, or the distillation method) cannot supervise it: every loss term
    of a supervised run, and OKDHP's ground-truth terms, are zero on unlabelled rows, which
    would only dilute the batch. Mimicry and DWPose have a teacher that acts on every row."""
    if teacher in ("mimicry", "dwpose"):
        return
    for stage in exp.stages:
        bad = [s for s in stage.sources if s in TEACHER_ONLY_SOURCES]
        if bad:
            how = "`movnect train` has no teacher" if not teacher else f"distill.method {teacher!r} has no teacher"
            raise ConfigError(f"stage {stage.name!r} uses source {bad[0]!r}, which carries no labels and {how}: "
                              "use `movnect distill` with method mimicry or dwpose")


def build_datasets(exp: ExperimentConfig, codec: Codec) -> tuple[list[Dataset], Dataset | None]:
    """(one training set per stage, validation set or None when data.h36m is empty)."""
    built: dict[str, Dataset] = {}
    stage_sets: list[Dataset] = []
    for stage in exp.stages:
        parts: list[Dataset] = []
        weights = stage.source_weights or (1.0,) * len(stage.sources)
        for source, w in zip(stage.sources, weights):
            if source not in built:
                built[source] = build_source(exp, codec, source)
            if len(built[source]) == 0:  # type: ignore[arg-type]
                raise ValueError(f"stage {stage.name!r}: source {source!r} has no samples")
            parts.append(built[source] if w == 1.0 else Weighted(built[source], w))
        stage_sets.append(parts[0] if len(parts) == 1 else ConcatDataset(parts))
    val = None
    val_file = exp.data.h36m_val or exp.data.h36m
    if val_file and exp.train.val_every > 0:
        val = H36MDataset(val_file, codec, tuple(exp.data.val_subjects), exp.data.val_frame_step,
                          NO_AUGMENT, seed=0)
        if len(val) == 0:
            raise ValueError(f"{val_file}: no validation rows for {','.join(exp.data.val_subjects)} "
                             f"every {exp.data.val_frame_step}th frame")
    return stage_sets, val
