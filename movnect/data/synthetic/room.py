"""Backgrounds of the synthetic release: a textured room seen through a real camera.

Each subject gets a random room (floor of tiles, planks or carpet; painted walls with doors,
windows, posters and cabinets; a lit ceiling). A camera's background is ray-cast once per
pixel through the camera's distortion model (camera.undistort), so straight room edges bend
exactly as the lens bends the person drawn on top. Images are BGR uint8 (OpenCV order).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from movnect.camera import Camera, undistort

Color = tuple[float, float, float]  # BGR, 0..255


@dataclass(frozen=True)
class Scene:
    """A box-shaped room in world mm (z up, floor z = 0), centred on the capture space."""

    center: tuple[float, float]
    half_x: float
    half_y: float
    height: float
    floor_kind: int                 # 0 tiles, 1 planks, 2 carpet
    floor_a: Color
    floor_b: Color
    tile: float                     # tile / plank size, mm
    wall_low: Color
    wall_high: Color
    trim: Color
    ceiling: Color
    decor: tuple[tuple[int, float, float, float, float, Color], ...]  # wall, s0, s1, z0, z1, colour
    light: tuple[float, float, float]
    ambient: float
    noise_seed: int


def _color(rng: np.random.Generator, lo: float, hi: float, tint: float = 40.0) -> Color:
    base = rng.uniform(lo, hi)
    return tuple(float(np.clip(base + rng.uniform(-tint, tint), 0, 255)) for _ in range(3))  # type: ignore[return-value]


def sample_scene(rng: np.random.Generator, center: tuple[float, float] = (0.0, 0.0)) -> Scene:
    """A random room around `center` (x, y) mm, large enough to hold the Human3.6M cameras."""
    hx, hy, h = rng.uniform(3200, 4500), rng.uniform(6000, 7200), rng.uniform(2900, 3600)
    kind = int(rng.integers(0, 3))
    fa = _color(rng, 60, 190, 35)
    fb = tuple(float(np.clip(c * rng.uniform(0.65, 0.9), 0, 255)) for c in fa)
    decor = []
    for _ in range(int(rng.integers(5, 11))):
        wall = int(rng.integers(0, 4))
        extent = hy if wall < 2 else hx
        width = rng.uniform(500, 1800)
        s0 = rng.uniform(-extent, extent - width)
        z0, z1 = [(0.0, rng.uniform(1900, 2200)),                      # door / cabinet
                  (rng.uniform(800, 1100), rng.uniform(1800, 2400)),  # window / poster
                  (0.0, rng.uniform(700, 1100))][int(rng.integers(0, 3))]
        decor.append((wall, s0, s0 + width, z0, z1, _color(rng, 20, 235, 60)))
    return Scene(
        center=(float(center[0]), float(center[1])), half_x=hx, half_y=hy, height=h,
        floor_kind=kind, floor_a=fa, floor_b=fb,  # type: ignore[arg-type]
        tile=float(rng.choice([300.0, 400.0, 500.0, 600.0]) if kind == 0 else rng.uniform(120, 220)),
        wall_low=_color(rng, 110, 220, 30), wall_high=_color(rng, 140, 240, 20),
        trim=_color(rng, 30, 120, 20), ceiling=_color(rng, 190, 240, 10), decor=tuple(decor),
        light=(center[0] + rng.uniform(-1500, 1500), center[1] + rng.uniform(-2000, 2000), h - 100),
        ambient=float(rng.uniform(0.35, 0.6)), noise_seed=int(rng.integers(0, 2**31 - 1)),
    )


def _noise_texture(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """(size, size) float32 smooth value noise in about [-1, 1] that tiles seamlessly."""
    grid = rng.normal(size=(cells, cells)).astype(np.float32)
    grid = np.concatenate([grid, grid[:1]], 0)
    grid = np.concatenate([grid, grid[:, :1]], 1)
    big = cv2.resize(grid, (size + size // cells, size + size // cells), interpolation=cv2.INTER_CUBIC)
    return big[:size, :size]


def _sample(tex: np.ndarray, a: np.ndarray, b: np.ndarray, period: float) -> np.ndarray:
    """Bilinear, wrapping look-up of a square texture at world coordinates a, b (mm)."""
    n = tex.shape[0]
    mx = (np.mod(a, period) * (n / period)).astype(np.float32)
    my = (np.mod(b, period) * (n / period)).astype(np.float32)
    return cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)


def render_background(scene: Scene, camera: Camera) -> np.ndarray:
    """The empty room through `camera`: (H, W, 3) uint8 BGR at the camera's resolution."""
    intr = camera.intrinsics
    w, h = intr.width, intr.height
    if w <= 0 or h <= 0:
        raise ValueError(f"camera {camera.name} has no image size ({w}x{h})")
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    xy_d = np.stack([(u - intr.center[0]) / intr.focal[0], (v - intr.center[1]) / intr.focal[1]], -1)
    xy = undistort(xy_d, intr, iterations=8)
    d = np.concatenate([xy, np.ones((h, w, 1))], -1) @ camera.extrinsics.rotation.T
    o = np.asarray(camera.extrinsics.translation, dtype=np.float64)
    cx, cy = scene.center
    big = np.float64(1e12)
    with np.errstate(divide="ignore", invalid="ignore"):
        tz = np.where(d[..., 2] < 0, -o[2] / d[..., 2], np.where(d[..., 2] > 0, (scene.height - o[2]) / d[..., 2], big))
        tx = np.where(d[..., 0] > 0, (cx + scene.half_x - o[0]) / d[..., 0],
                      np.where(d[..., 0] < 0, (cx - scene.half_x - o[0]) / d[..., 0], big))
        ty = np.where(d[..., 1] > 0, (cy + scene.half_y - o[1]) / d[..., 1],
                      np.where(d[..., 1] < 0, (cy - scene.half_y - o[1]) / d[..., 1], big))
    t = np.minimum(np.minimum(tz, tx), ty)
    p = o + t[..., None] * d
    px, py, pz = p[..., 0], p[..., 1], p[..., 2]
    rng = np.random.default_rng(scene.noise_seed)
    fine, coarse = _noise_texture(rng, 256, 16), _noise_texture(rng, 256, 6)
    img = np.zeros((h, w, 3), dtype=np.float32)

    floor = (tz <= np.minimum(tx, ty)) & (d[..., 2] < 0)
    walls = ~floor & (np.minimum(tx, ty) < tz)
    ceiling = ~floor & ~walls
    # Floor
    fa, fb = np.array(scene.floor_a, np.float32), np.array(scene.floor_b, np.float32)
    gx, gy = px / scene.tile, py / scene.tile
    n_f = _sample(fine, px, py, 1200.0)
    n_c = _sample(coarse, px, py, 6000.0)
    if scene.floor_kind == 0:
        check = (np.floor(gx) + np.floor(gy)) % 2
        grout = (np.minimum(np.abs(gx - np.round(gx)), np.abs(gy - np.round(gy))) * scene.tile) < 6
        col = np.where(check[..., None] > 0, fa, fb) * (1 + 0.06 * n_f[..., None])
        col = np.where(grout[..., None], fb * 0.55, col)
    elif scene.floor_kind == 1:
        row = np.floor(gy)
        shift = np.mod(row * 0.37, 1.0) * 7.0
        board = np.floor(gx / 7.0 + shift)
        tone = np.mod(np.sin(board * 12.9898 + row * 78.233) * 43758.5453, 1.0)
        grain = _sample(fine, px * 0.15, py * 4.0, 1200.0)
        col = fb + (fa - fb) * tone[..., None]
        col = col * (1 + 0.1 * grain[..., None])
        seam = (np.abs(gy - np.round(gy)) * scene.tile < 3) | (np.abs(gx / 7 + shift - np.round(gx / 7 + shift)) * 7 * scene.tile < 3)
        col = np.where(seam[..., None], fb * 0.6, col)
    else:
        col = (fa * 0.8 + fb * 0.2) * (1 + 0.12 * n_f[..., None] + 0.08 * n_c[..., None])
    wall_dist = np.minimum(scene.half_x - np.abs(px - cx), scene.half_y - np.abs(py - cy))
    col = col * (1 - 0.3 * np.exp(-np.maximum(wall_dist, 0) / 400.0))[..., None]
    img[floor] = col[floor]
    # Walls: coordinate s along the wall, height z
    on_x = tx <= ty
    wall_id = np.where(on_x, np.where(d[..., 0] > 0, 0, 1), np.where(d[..., 1] > 0, 2, 3))
    s = np.where(on_x, py - cy, px - cx)
    frac = np.clip(pz / scene.height, 0, 1)[..., None]
    lo, hi = np.array(scene.wall_low, np.float32), np.array(scene.wall_high, np.float32)
    col = lo + (hi - lo) * frac
    col = col * (1 + 0.04 * _sample(fine, s, pz, 1500.0)[..., None] + 0.05 * _sample(coarse, s, pz, 5000.0)[..., None])
    for wall, s0, s1, z0, z1, c in scene.decor:
        inside = (wall_id == wall) & (s >= s0) & (s <= s1) & (pz >= z0) & (pz <= z1)
        frame = inside & ((s - s0 < 40) | (s1 - s < 40) | (pz - z0 < 40) | (z1 - pz < 40))
        col = np.where(inside[..., None], np.array(c, np.float32) * (1 + 0.05 * n_f[..., None]), col)
        col = np.where(frame[..., None], np.array(c, np.float32) * 0.55, col)
    col = np.where((pz < 110)[..., None], np.array(scene.trim, np.float32), col)
    col = col * (1 - 0.25 * np.exp(-pz / 300.0))[..., None]
    img[walls] = col[walls]
    # Ceiling with light panels
    panel = (np.mod(px, 1800.0) < 600) & (np.mod(py, 2400.0) < 1200)
    col = np.where(panel[..., None], np.float32(250.0), np.array(scene.ceiling, np.float32))
    img[ceiling] = np.broadcast_to(col, img.shape)[ceiling]
    # Lighting: a ceiling lamp with inverse-square falloff plus ambient light
    dist2 = (px - scene.light[0]) ** 2 + (py - scene.light[1]) ** 2 + (pz - scene.light[2]) ** 2
    lamp = 1.0 / (1.0 + dist2 / (3500.0**2))
    shade = scene.ambient + (1.25 - scene.ambient) * lamp
    img *= np.where(ceiling, 1.0, shade)[..., None].astype(np.float32)
    img += rng.normal(0.0, 2.0, img.shape).astype(np.float32)
    img = cv2.GaussianBlur(img, (3, 3), 0.6)
    return np.clip(img, 0, 255).astype(np.uint8)
