"""A tiny learnable pose dataset returning exactly the Dataset sample dict of
docs/architecture.md, for testing the training loop without an HDF5 file.

Each sample: a random rotation (about the vertical axis) of a template 17-joint skeleton with
jittered limbs, projected orthographically into an S x S crop; joints are drawn as coloured
discs whose radius grows as the joint comes nearer (so depth is visible). Targets come from
the codec. Randomness per item comes from numpy's global RNG (seeded per sample by the
training loop's SeededDataset) when `augment` is on, and from the index otherwise.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from movnect import skeleton
from movnect.codec import Codec

# Template offsets from the parent (mm, camera axes: y down).
_OFFSETS = {
    1: (-120, 0, 0), 2: (0, 420, 0), 3: (0, 420, 0), 4: (120, 0, 0), 5: (0, 420, 0), 6: (0, 420, 0),
    7: (0, -230, 0), 8: (0, -230, 0), 9: (0, -90, 0), 10: (0, -110, 0), 11: (160, 30, 0),
    12: (0, 270, 0), 13: (0, 250, 0), 14: (-160, 30, 0), 15: (0, 270, 0), 16: (0, 250, 0),
}
_COLOURS = np.array([[(37 * j) % 255, (91 * j + 60) % 255, (173 * j + 120) % 255] for j in range(17)], np.float32)


def random_pose(rng: np.random.Generator) -> np.ndarray:
    """(17, 3) root-relative mm."""
    joints = np.zeros((17, 3))
    for j in range(1, 17):
        off = np.array(_OFFSETS[j], dtype=np.float64)
        if j in (12, 13, 15, 16, 2, 5, 3, 6):  # swing limbs
            off = off + rng.normal(scale=120.0, size=3)
        joints[j] = joints[skeleton.PARENTS[j]] + off
    a = rng.uniform(-np.pi / 3, np.pi / 3)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return joints @ rot.T


class ToyPoseDataset(Dataset):
    def __init__(self, n: int, codec: Codec, seed: int = 0, augment: bool = False, has3d: bool = True) -> None:
        self.n, self.codec, self.seed, self.augment, self.has3d = n, codec, seed, augment, has3d

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, index])
        j3 = random_pose(rng)
        if self.augment:  # an augmentation drawn from the (per-sample seeded) global RNG
            j3 = j3 * np.random.uniform(0.9, 1.1)
        s = self.codec.config.input_size
        scale = 0.8 * s / 2000.0
        j2 = s / 2 - 0.5 + j3[:, :2] * scale + np.array([0, 0.1 * s])
        img = np.full((s, s, 3), 90.0, np.float32)
        yy, xx = np.mgrid[0:s, 0:s]
        for j in np.argsort(-j3[:, 2]):  # far joints first
            r = max(1.5, s / 40 * (1 - j3[j, 2] / 1500.0))
            disc = (xx - j2[j, 0]) ** 2 + (yy - j2[j, 1]) ** 2 <= r * r
            img[disc] = _COLOURS[j]
        image = self.codec.normalize(torch.from_numpy(img).permute(2, 0, 1)[None])[0]
        j2t = torch.tensor(j2, dtype=torch.float32)[None]
        j3t = torch.tensor(j3, dtype=torch.float32)[None]
        heat, loc = self.codec.encode(j2t, j3t)
        has3d = 1.0 if self.has3d else 0.0
        return {
            "image": image,
            "heatmaps": heat[0],
            "locmaps": loc[0] * has3d,
            "joints2d": j2t[0],
            "joints3d": j3t[0] * has3d,
            "mask2d": torch.ones(17),
            "has3d": torch.tensor(has3d),
            "index": torch.tensor(index if self.has3d else -1),
            "action": torch.tensor(index % 3),
            "subject": torch.tensor(0),
            "camera": torch.tensor(0),
        }
