"""Camera-like image degradations of a rendered crop (uint8 RGB in, uint8 RGB out).

Applied per frame with a per-sequence style (`sample_degradation`): white balance (per-channel
gains), exposure and tone (gain, gamma), defocus (Gaussian blur), motion blur (a line kernel
of random direction), sensor noise (Gaussian read noise plus signal-dependent shot noise) and,
when the row is stored, JPEG compression at the style's quality (40-95).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Degradation:
    gains: tuple[float, float, float]   # white balance, RGB
    exposure: float                     # linear gain
    gamma: float
    defocus: float                      # Gaussian sigma, px at 256 (0 = none)
    motion: float                       # motion-blur length, px at 256 (0 = none)
    motion_angle: float                 # radians
    noise: float                        # read-noise sigma in 8-bit units
    shot: float                         # shot-noise factor
    jpeg_quality: int


def sample_degradation(rng: np.random.Generator) -> Degradation:
    wb = np.exp(rng.normal(0.0, 0.06, 3))
    return Degradation(
        gains=tuple(float(g) for g in wb / wb.mean()), exposure=float(np.exp(rng.normal(0.0, 0.25))),
        gamma=float(np.exp(rng.normal(0.0, 0.1))),
        defocus=float(rng.uniform(0.3, 1.4)) if rng.uniform() < 0.3 else 0.0,
        motion=float(rng.uniform(2.0, 9.0)) if rng.uniform() < 0.25 else 0.0,
        motion_angle=float(rng.uniform(0, np.pi)),
        noise=float(rng.uniform(0.5, 4.0)) if rng.uniform() < 0.7 else 0.0,
        shot=float(rng.uniform(0.0, 0.5)), jpeg_quality=int(rng.integers(40, 96)))


def degrade(image: np.ndarray, d: Degradation, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> degraded (H, W, 3) uint8 RGB (JPEG is left to the writer)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"degrade: expected (H, W, 3) uint8, got {image.shape} {image.dtype}")
    scale = image.shape[0] / 256.0
    x = image.astype(np.float32) / 255.0
    x = np.clip(x * np.asarray(d.gains, dtype=np.float32) * d.exposure, 0.0, 1.0) ** d.gamma
    if d.defocus > 0:
        x = cv2.GaussianBlur(x, (0, 0), d.defocus * scale)
    if d.motion > 0:
        n = max(3, int(round(d.motion * scale)) | 1)
        k = np.zeros((n, n), dtype=np.float32)
        c = n // 2
        dx, dy = np.cos(d.motion_angle), np.sin(d.motion_angle)
        for t in np.linspace(-c, c, 2 * n):
            k[int(round(c + t * dy)), int(round(c + t * dx))] = 1.0
        x = cv2.filter2D(x, -1, k / k.sum())
    x = x * 255.0
    if d.noise > 0:
        sigma = np.sqrt(d.noise ** 2 + d.shot * np.maximum(x, 0.0))
        x = x + rng.standard_normal(x.shape).astype(np.float32) * sigma
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)
