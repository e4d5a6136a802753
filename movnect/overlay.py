"""Drawing for the live demo: 2D skeleton on the frame, a 3D skeleton view beside it, stats.

Pure OpenCV drawing on uint8 BGR images (what cv2.VideoWriter and cv2.imshow take). The
person's left side is drawn in blue-ish, the right side in orange-ish, the centre in white,
in both views, so a mirrored prediction is visible at a glance.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from movnect import skeleton as sk

LEFT_BGR = (235, 150, 40)
RIGHT_BGR = (40, 140, 245)
CENTRE_BGR = (235, 235, 235)
UNTRACKED_BGR = (90, 90, 90)


def bone_colour(child: int) -> tuple[int, int, int]:
    if child in sk.LEFT_JOINTS:
        return LEFT_BGR
    if child in sk.RIGHT_JOINTS:
        return RIGHT_BGR
    return CENTRE_BGR


def draw_skeleton_2d(image: np.ndarray, joints2d: np.ndarray, confidence: np.ndarray | None = None,
                     min_confidence: float = 0.2, thickness: int = 2, tracked: bool = True) -> None:
    """Draw bones and joints in place.

    Args:
        image: (H, W, 3) uint8 BGR, modified in place.
        joints2d: (17, 2) pixels of `image`.
        confidence: (17,) or None; bones with an end below `min_confidence` are skipped.
        tracked: False draws the pose greyed (held pose of an untracked frame).
    """
    j = np.asarray(joints2d, dtype=np.float64)
    if j.shape != (sk.NUM_JOINTS, 2):
        raise ValueError(f"draw_skeleton_2d: expected ({sk.NUM_JOINTS}, 2) joints, got {j.shape}")
    c = np.ones(sk.NUM_JOINTS) if confidence is None else np.asarray(confidence)
    ok = np.isfinite(j).all(-1) & (c >= min_confidence)
    for parent, child in sk.BONES:
        if ok[parent] and ok[child]:
            colour = bone_colour(child) if tracked else UNTRACKED_BGR
            p0 = tuple(int(round(v)) for v in j[parent])
            p1 = tuple(int(round(v)) for v in j[child])
            cv2.line(image, p0, p1, colour, thickness, cv2.LINE_AA)
    for i in np.nonzero(ok)[0]:
        cv2.circle(image, tuple(int(round(v)) for v in j[i]), thickness + 1, (255, 255, 255), -1, cv2.LINE_AA)


def view_rotation(azimuth: float, elevation: float) -> np.ndarray:
    """(3, 3) rotation of the viewer: azimuth about the camera's vertical (y) axis, then
    elevation about x; radians. Applied to root-relative camera-frame points."""
    ca, sa = math.cos(azimuth), math.sin(azimuth)
    ce, se = math.cos(elevation), math.sin(elevation)
    ry = np.array([[ca, 0.0, sa], [0.0, 1.0, 0.0], [-sa, 0.0, ca]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, ce, -se], [0.0, se, ce]])
    return rx @ ry


def render_skeleton_3d(joints3d: np.ndarray | None, size: int = 480, azimuth: float = 0.6,
                       elevation: float = -0.25, extent_mm: float = 1100.0, tracked: bool = True,
                       title: str = "3D (root-relative)") -> np.ndarray:
    """A (size, size, 3) uint8 BGR panel with the 3D skeleton seen from an oblique viewpoint.

    Args:
        joints3d: (17, 3) mm camera axes (root-relative or global: the root is subtracted),
            or None for an empty panel.
        extent_mm: half the visible width of the panel.
    """
    panel = np.full((size, size, 3), 28, np.uint8)
    cv2.putText(panel, title, (10, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (200, 200, 200), 1, cv2.LINE_AA)
    scale = size / (2.0 * extent_mm)
    r = view_rotation(azimuth, elevation)
    # floor grid through the lowest foot level of a standing person (~ +900 mm below the pelvis)
    grid = np.array([[x, 900.0, z] for x in np.linspace(-800, 800, 5) for z in np.linspace(-800, 800, 5)])
    g = grid @ r.T
    gp = g[:, :2] * scale + size / 2.0
    for a in range(5):
        for b in range(4):
            i0, i1 = a * 5 + b, a * 5 + b + 1
            cv2.line(panel, _pt(gp[i0]), _pt(gp[i1]), (60, 60, 60), 1, cv2.LINE_AA)
            i0, i1 = b * 5 + a, (b + 1) * 5 + a
            cv2.line(panel, _pt(gp[i0]), _pt(gp[i1]), (60, 60, 60), 1, cv2.LINE_AA)
    if joints3d is None:
        return panel
    j = np.asarray(joints3d, dtype=np.float64)
    if j.shape != (sk.NUM_JOINTS, 3):
        raise ValueError(f"render_skeleton_3d: expected ({sk.NUM_JOINTS}, 3) joints, got {j.shape}")
    if not np.isfinite(j).all():
        return panel
    p = (j - j[:1]) @ r.T
    uv = p[:, :2] * scale + size / 2.0
    # far bones first (painter's order), so near limbs are drawn on top
    order = sorted(sk.BONES, key=lambda b: -(p[b[0], 2] + p[b[1], 2]))
    for parent, child in order:
        colour = bone_colour(child) if tracked else UNTRACKED_BGR
        cv2.line(panel, _pt(uv[parent]), _pt(uv[child]), colour, 3, cv2.LINE_AA)
    for i in range(sk.NUM_JOINTS):
        cv2.circle(panel, _pt(uv[i]), 3, (255, 255, 255), -1, cv2.LINE_AA)
    return panel


def put_stats(image: np.ndarray, lines: list[str]) -> None:
    """Write text lines in the top-left corner, in place, on a dark band for legibility."""
    y = 20
    for text in lines:
        (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        cv2.rectangle(image, (6, y - h - 4), (14 + w, y + 4), (0, 0, 0), -1)
        cv2.putText(image, text, (10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        y += h + 10


def compose(frame_bgr: np.ndarray, panel: np.ndarray) -> np.ndarray:
    """Frame and 3D panel side by side; the panel is resized to the frame's height."""
    h = frame_bgr.shape[0]
    if panel.shape[0] != h:
        panel = cv2.resize(panel, (h, h), interpolation=cv2.INTER_AREA)
    return np.concatenate([frame_bgr, panel], axis=1)


def _pt(v: np.ndarray) -> tuple[int, int]:
    return int(round(float(v[0]))), int(round(float(v[1])))
