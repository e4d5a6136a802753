"""Real photographs for the rooms' pictures and brick walls, from scikit-image's bundled data.

Only images whose scikit-image docstrings state public domain or CC0 are used (checked for
scikit-image 0.25.2; `PHOTOS` records each one's licence as its docstring gives it). They are
optional: without scikit-image the rooms use procedural pictures only.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

# (skimage.data function, use, licence as stated in its docstring)
PHOTOS: tuple[tuple[str, str, str], ...] = (
    ("astronaut", "picture", "public domain (NASA)"),
    ("coffee", "picture", "CC0 (photographer Rachel Michetti)"),
    ("chelsea", "picture", "CC0 (photographer Stefan van der Walt)"),
    ("rocket", "picture", "public domain (SpaceX)"),
    ("hubble_deep_field", "picture", "public domain (NASA)"),
    ("camera", "picture", "CC0 (photographer Lav Varshney)"),
    ("horse", "picture", "CC0 (owner Andreas Preuss)"),
    ("brick", "wall", "CC0 (CC0Textures, Bricks25)"),
)
SIZE = 512


@lru_cache(maxsize=1)
def load_photos() -> tuple[tuple[str, ...], np.ndarray | None]:
    """(names, (L, SIZE, SIZE, 3) uint8 RGB) of the available PHOTOS, or ((), None)."""
    try:
        import cv2
        import skimage.data as data
    except ImportError:
        return (), None
    names, images = [], []
    for name, _, _ in PHOTOS:
        try:
            img = np.asarray(getattr(data, name)())
        except Exception:  # noqa: BLE001  (a missing or undownloadable file: skip that photo)
            continue
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        img = img[..., :3]
        if img.dtype != np.uint8:
            img = (255 * (img.astype(np.float64) / max(float(img.max()), 1e-9))).astype(np.uint8)
        h, w = img.shape[:2]
        side = min(h, w)  # centre square
        img = img[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
        images.append(cv2.resize(img, (SIZE, SIZE), interpolation=cv2.INTER_AREA))
        names.append(name)
    if not images:
        return (), None
    return tuple(names), np.stack(images)
