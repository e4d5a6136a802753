"""A tiny learnable pose dataset for the distillation tests (the sample dict of
docs/architecture.md, no files).

Sample `index`: a 17-joint stick figure (random limb swings, a random turn about the vertical
axis), projected orthographically into an S x S crop and drawn as coloured discs whose size
grows with nearness. Everything is a function of (seed, index), so the data are the same in
every epoch (no augmentation: teacher caches are valid on it). `has3d=False` gives 2D-only
samples (zero 3D targets, index -1); `unlabelled` joints get mask2d 0 and zero heatmaps.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from movnect import skeleton
from movnect.codec import Codec

_OFFSETS = np.array([
    (0, 0, 0), (-110, 0, 0), (0, 400, 0), (0, 400, 0), (110, 0, 0), (0, 400, 0), (0, 400, 0),
    (0, -220, 0), (0, -220, 0), (0, -90, 0), (0, -110, 0), (150, 30, 0), (0, 260, 0),
    (0, 240, 0), (-150, 30, 0), (0, 260, 0), (0, 240, 0),
], np.float64)
_SWING = (2, 3, 5, 6, 12, 13, 15, 16)
_COLOURS = np.array([[(41 * j) % 256, (97 * j + 50) % 256, (181 * j + 100) % 256] for j in range(17)], np.float32)


def toy_pose(rng: np.random.Generator) -> np.ndarray:
    """(17, 3) root-relative millimetres, camera axes (y down)."""
    joints = np.zeros((17, 3))
    for j in range(1, 17):
        off = _OFFSETS[j] + (rng.normal(scale=130.0, size=3) if j in _SWING else 0.0)
        joints[j] = joints[skeleton.PARENTS[j]] + off
    a = rng.uniform(-1.0, 1.0)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return joints @ rot.T


class ToyPoseDataset(Dataset):
    def __init__(self, n: int, codec: Codec, seed: int = 0, has3d: bool = True,
                 unlabelled: tuple[int, ...] = ()) -> None:
        self.n, self.codec, self.seed, self.has3d, self.unlabelled = n, codec, seed, has3d, unlabelled

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, index])
        j3 = toy_pose(rng)
        s = self.codec.config.input_size
        j2 = s / 2 - 0.5 + j3[:, :2] * (0.8 * s / 2000.0) + np.array([0.0, 0.1 * s])
        img = np.full((s, s, 3), 80.0, np.float32)
        yy, xx = np.mgrid[0:s, 0:s]
        for j in np.argsort(-j3[:, 2]):
            r = max(1.5, s / 36 * (1 - j3[j, 2] / 1500.0))
            img[(xx - j2[j, 0]) ** 2 + (yy - j2[j, 1]) ** 2 <= r * r] = _COLOURS[j]
        image = self.codec.normalize(torch.from_numpy(img).permute(2, 0, 1)[None])[0]
        mask = torch.ones(17)
        mask[list(self.unlabelled)] = 0.0
        j2t = torch.tensor(j2, dtype=torch.float32)[None]
        j3t = torch.tensor(j3, dtype=torch.float32)[None]
        heat, loc = self.codec.encode(j2t, j3t, mask[None])
        h3 = 1.0 if self.has3d else 0.0
        return {
            "image": image, "heatmaps": heat[0], "locmaps": loc[0] * h3, "joints2d": j2t[0],
            "joints3d": j3t[0] * h3, "mask2d": mask, "has3d": torch.tensor(h3),
            "index": torch.tensor(index if self.has3d else -1), "action": torch.tensor(0),
            "subject": torch.tensor(0), "camera": torch.tensor(0),
        }
