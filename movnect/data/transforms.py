"""Training augmentation of person crops with their 2D and 3D joints, kept consistent.

Geometry (one affine map per sample, applied with cv2.warpAffine to the crop and to the 2D):
  * scale: zoom about the crop centre by s in [1 - scale, 1 + scale];
  * rotation: in-plane rotation by theta about the crop centre; the root-relative 3D joints are
    rotated about the camera's optical (z) axis by the same theta, which is what rotating the
    camera about its axis does (exact for a crop centred on the principal point, the usual
    approximation otherwise);
  * translation: shift by up to `translate` x the crop side;
  * horizontal flip: u -> S - 1 - u, 3D x -> -x, and left/right joints swapped
    (movnect.skeleton.FLIP_PERM), so "left_wrist" stays the person's left wrist.
Photometric: brightness, contrast and saturation jitter; synthetic occlusion by a random
rectangle of noise (the joints under it keep their labels: the network must infer them).
Framing: a crop stored with more context than the training framing (margin M above
movnect.camera.CROP_MARGIN) is zoomed back in by `framing_zoom(M)` (`reframe_affine`, passed to
`augment` as `pre`), so a zoom-out or a rotation shows the stored scene, not a black border.
Everything is drawn from the `rng` passed in, so a sample is reproducible from its seed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from movnect import skeleton
from movnect.camera import CROP_MARGIN


@dataclass(frozen=True)
class AugmentConfig:
    enabled: bool = True
    scale: float = 0.2            # zoom factor in [1 - scale, 1 + scale]
    rotation_deg: float = 30.0    # |theta| <= rotation_deg ...
    rotation_prob: float = 0.5    # ... applied with this probability
    translate: float = 0.05       # shift, fraction of the crop side
    flip_prob: float = 0.5
    color_jitter: float = 0.3     # brightness / contrast / saturation factors in [1 - c, 1 + c]
    occlusion_prob: float = 0.3   # one noise rectangle of 10-40 % of the side

    def __post_init__(self) -> None:
        for name in ("scale", "translate", "color_jitter"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"augment.{name} must be in [0, 1), got {getattr(self, name)}")
        for name in ("rotation_prob", "flip_prob", "occlusion_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"augment.{name} must be a probability, got {getattr(self, name)}")
        if not 0.0 <= self.rotation_deg <= 180.0:
            raise ValueError(f"augment.rotation_deg must be in [0, 180], got {self.rotation_deg}")


NO_AUGMENT = AugmentConfig(enabled=False)


def affine_matrix(size: int, scale: float, theta: float, shift: tuple[float, float]) -> np.ndarray:
    """(2, 3) map of crop pixels: rotate by theta (radians, image axes: x right, y down, so a
    positive theta turns x towards y) and zoom by `scale` about the centre, then shift (px)."""
    c = (size - 1) / 2.0
    cs, sn = math.cos(theta) * scale, math.sin(theta) * scale
    a = np.array([[cs, -sn], [sn, cs]])
    t = np.array([c, c]) - a @ np.array([c, c]) + np.asarray(shift, dtype=np.float64)
    return np.concatenate([a, t[:, None]], axis=1)


def framing_zoom(stored_margin: float) -> float:
    """Zoom (>= 1) that turns a crop framed with `stored_margin` (side = (1 + 2 m) x the joints'
    extent) into the training framing (movnect.camera.CROP_MARGIN); 1.0 for tighter crops."""
    return max(1.0, (1.0 + 2.0 * float(stored_margin)) / (1.0 + 2.0 * CROP_MARGIN))


def reframe_affine(src: int, out: int, zoom: float) -> np.ndarray:
    """(2, 3) map from the pixels of a (src, src) crop to those of the (out, out) crop of the
    same centre and 1 / zoom its side: p -> zoom (out / src) p - (out / 2)(zoom - 1), which is
    `image_to_crop` of the box CropBox.around(centre, side / zoom) (movnect.camera)."""
    if src < 1 or out < 1 or not zoom > 0:
        raise ValueError(f"reframe_affine: need src, out >= 1 and zoom > 0; got {src}, {out}, {zoom}")
    k = zoom * out / src
    t = -(out / 2.0) * (zoom - 1.0)
    return np.array([[k, 0.0, t], [0.0, k, t]])


def compose_affine(second: np.ndarray, first: np.ndarray) -> np.ndarray:
    """(2, 3) map `second` after `first` (both (2, 3))."""
    a2, t2 = second[:, :2], second[:, 2:]
    return np.concatenate([a2 @ first[:, :2], a2 @ first[:, 2:] + t2], axis=1)


def rotate_z(joints3d: np.ndarray, theta: float) -> np.ndarray:
    """Rotate (J, 3) points about the camera z axis by theta, the same sense as affine_matrix."""
    cs, sn = math.cos(theta), math.sin(theta)
    r = np.array([[cs, -sn, 0.0], [sn, cs, 0.0], [0.0, 0.0, 1.0]])
    return joints3d @ r.T


def flip(image: np.ndarray, joints2d: np.ndarray, joints3d: np.ndarray, mask: np.ndarray
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mirror a crop (S, S, 3) with its (J, 2) crop-pixel joints, (J, 3) root-relative 3D, and
    per-joint mask (J,) or masks (J, K) (rows follow their joints)."""
    size = image.shape[1]
    perm = skeleton.FLIP_PERM
    j2 = joints2d.copy()
    j2[:, 0] = size - 1 - j2[:, 0]
    j3 = joints3d.copy()
    j3[:, 0] = -j3[:, 0]
    return image[:, ::-1].copy(), j2[perm], j3[perm], mask[perm]


def color_jitter(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast and saturation jitter of a (H, W, 3) uint8 RGB image."""
    x = image.astype(np.float32)
    b, c, s = rng.uniform(1 - strength, 1 + strength, 3)
    x = x * b
    mean = x.mean()
    x = (x - mean) * c + mean
    grey = x.mean(axis=2, keepdims=True)
    x = (x - grey) * s + grey
    return np.clip(x, 0, 255).astype(np.uint8)


def occlude(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Paste a rectangle of coloured noise (10-40 % of the side) at a random place."""
    h, w = image.shape[:2]
    rh, rw = (rng.uniform(0.1, 0.4, 2) * np.array([h, w])).astype(int) + 1
    y0, x0 = rng.integers(0, h - rh + 1), rng.integers(0, w - rw + 1)
    base = rng.integers(0, 256, 3)
    noise = rng.normal(0, 25, (rh, rw, 3))
    out = image.copy()
    out[y0:y0 + rh, x0:x0 + rw] = np.clip(base + noise, 0, 255).astype(np.uint8)
    return out


def augment(image: np.ndarray, joints2d: np.ndarray, joints3d: np.ndarray, mask: np.ndarray,
            cfg: AugmentConfig, rng: np.random.Generator, pre: np.ndarray | None = None,
            out_size: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Augment one sample.

    Args:
        image: (S, S, 3) uint8 RGB crop.
        joints2d: (J, 2) crop pixels. joints3d: (J, 3) root-relative mm. mask: (J,) 2D label mask,
            or (J, K) several per-joint masks (each row follows its joint under flips).
        cfg, rng: settings and the random generator (the only source of randomness).
        pre: optional (2, 3) map from this crop's pixels to the output crop's, applied before
            the random geometry (and even with augmentation off): `reframe_affine` for a crop
            stored with wider context. out_size: the output side (default S).
    Returns:
        (image, joints2d, joints3d, mask) transformed consistently; inputs are not modified.
    """
    if image.ndim != 3 or image.shape[0] != image.shape[1] or image.shape[2] != 3:
        raise ValueError(f"augment: expected a square (S, S, 3) crop, got {image.shape}")
    size = int(out_size or image.shape[0])
    if pre is not None and np.shape(pre) != (2, 3):
        raise ValueError(f"augment: pre must be a (2, 3) affine map, got shape {np.shape(pre)}")
    if pre is None and size != image.shape[0]:
        pre = reframe_affine(image.shape[0], size, 1.0)  # a plain resize to the output side
    if not cfg.enabled:
        if pre is None:
            return image, joints2d, joints3d, mask
        m = pre
        image = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=(0, 0, 0))
        return image, joints2d @ m[:, :2].T + m[:, 2], joints3d, mask
    s = rng.uniform(1 - cfg.scale, 1 + cfg.scale)
    theta = math.radians(rng.uniform(-cfg.rotation_deg, cfg.rotation_deg)) if rng.random() < cfg.rotation_prob else 0.0
    shift = tuple(rng.uniform(-cfg.translate, cfg.translate, 2) * size)
    m = affine_matrix(size, s, theta, shift)
    if pre is not None:
        m = compose_affine(m, pre)
    image = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=(0, 0, 0))
    joints2d = joints2d @ m[:, :2].T + m[:, 2]
    joints3d = rotate_z(joints3d, theta)
    if rng.random() < cfg.flip_prob:
        image, joints2d, joints3d, mask = flip(image, joints2d, joints3d, mask)
    if cfg.color_jitter > 0:
        image = color_jitter(image, cfg.color_jitter, rng)
    if rng.random() < cfg.occlusion_prob:
        image = occlude(image, rng)
    return image, joints2d, joints3d, mask
