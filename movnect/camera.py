"""Cameras: pinhole projection with Brown-Conrady distortion, world <-> camera, crop <-> image.

Conventions (pinned by tests/movnect/test_camera.py):
  * Camera frame: x right, y down, z forward (optical axis); millimetres.
  * Image pixels: the centre of pixel (col i, row j) is at (u, v) = (i, j) (OpenCV's
    convention, the one cv2.warpAffine uses); u grows to the right, v downwards.
  * Extrinsics follow the Human3.6M release: `orientation` is a unit quaternion (w, x, y, z)
    that rotates camera-frame vectors into the world frame and `translation` is the camera
    centre in world millimetres, so X_cam = R(q)^T (X_world - t).
  * Distortion: radial k1, k2, k3 and tangential p1, p2 in OpenCV's Brown-Conrady form
    (identical to cv2.projectPoints). The Human3.6M release code (ProjectPointRadial, which
    made the release's D2_Positions; also 3d-pose-baseline's project_point_radial) writes the
    tangential part differently: x (radial + p1 y + p2 x) + p2 r^2, y (radial + p1 y + p2 x)
    + p1 r^2, i.e. half the cross terms and no 2x^2 / 2y^2 terms. With the release's cameras the
    two projections differ by up to 1.4 px in the image corners (0.7-1.4 px per camera), by a
    median 0.1-0.2 px over the image and by < 0.1 px within ~170 px of the principal point
    (pinned by tests/movnect/test_camera.py), so our 2D labels can sit ~1 px from the release's
    2D files near the image border.
  * A crop is a square box (x0, y0, side) in image pixels resampled to `crop_size` pixels:
    u_crop = (u - x0) * crop_size / side.
  * Training framing: a person's crop is centred on the box of their joints with side
    (1 + 2 CROP_MARGIN) x its larger side (what prepare-h36m and the renderers store by default, what
    the tracker's padding and the person detector's box reproduce). Files stored with a wider
    margin are zoomed back to it by the Dataset (movnect.data.transforms.framing_zoom).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from movnect import rotations


def _check_last(x: np.ndarray, n: int, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1 or x.shape[-1] != n:
        raise ValueError(f"{name}: expected shape (..., {n}), got {x.shape}")
    return x


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels plus Brown-Conrady distortion and image size."""

    focal: tuple[float, float]
    center: tuple[float, float]
    radial: tuple[float, float, float] = (0.0, 0.0, 0.0)
    tangential: tuple[float, float] = (0.0, 0.0)
    width: int = 0
    height: int = 0

    @property
    def matrix(self) -> np.ndarray:
        """(3, 3) camera matrix K."""
        (fx, fy), (cx, cy) = self.focal, self.center
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])

    def without_distortion(self) -> "Intrinsics":
        return Intrinsics(self.focal, self.center, width=self.width, height=self.height)


@dataclass(frozen=True)
class Extrinsics:
    """Camera pose in the Human3.6M convention (see module docstring)."""

    orientation: tuple[float, float, float, float]
    translation: tuple[float, float, float]

    @property
    def rotation(self) -> np.ndarray:
        """(3, 3) rotation taking camera-frame vectors into the world frame."""
        return rotations.quaternion_to_matrix(np.asarray(self.orientation))


@dataclass(frozen=True)
class Camera:
    name: str
    intrinsics: Intrinsics
    extrinsics: Extrinsics


def world_to_camera(points: np.ndarray, extrinsics: Extrinsics) -> np.ndarray:
    """World -> camera frame: (..., 3) mm -> (..., 3) mm, X_cam = R^T (X_world - t)."""
    points = _check_last(points, 3, "world_to_camera points")
    r = extrinsics.rotation
    return (points - np.asarray(extrinsics.translation)) @ r


def camera_to_world(points: np.ndarray, extrinsics: Extrinsics) -> np.ndarray:
    """Camera -> world frame: (..., 3) mm -> (..., 3) mm, X_world = R X_cam + t."""
    points = _check_last(points, 3, "camera_to_world points")
    r = extrinsics.rotation
    return points @ r.T + np.asarray(extrinsics.translation)


def distort(xy: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Apply Brown-Conrady distortion to normalised image coordinates (..., 2) -> (..., 2)."""
    xy = _check_last(xy, 2, "distort xy")
    k1, k2, k3 = intrinsics.radial
    p1, p2 = intrinsics.tangential
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = 1.0 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
    yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
    return np.stack([xd, yd], axis=-1)


def undistort(xy_distorted: np.ndarray, intrinsics: Intrinsics, iterations: int = 20) -> np.ndarray:
    """Invert `distort` by fixed-point iteration (normalised coordinates, (..., 2))."""
    xy_d = _check_last(xy_distorted, 2, "undistort xy")
    xy = xy_d.copy()
    for _ in range(iterations):
        xy = xy + (xy_d - distort(xy, intrinsics))
    return xy


def project(points_cam: np.ndarray, intrinsics: Intrinsics, distortion: bool = True) -> np.ndarray:
    """Project camera-frame points to pixels.

    Args:
        points_cam: (..., 3) points in the camera frame, mm, z > 0.
        intrinsics: camera intrinsics.
        distortion: apply the lens distortion (True) or pure pinhole (False).
    Returns:
        (..., 2) pixel coordinates (u, v).
    """
    points_cam = _check_last(points_cam, 3, "project points")
    z = points_cam[..., 2:3]
    if np.any(z <= 0):
        raise ValueError("project: points must lie in front of the camera (z > 0)")
    xy = points_cam[..., :2] / z
    if distortion:
        xy = distort(xy, intrinsics)
    return xy * np.asarray(intrinsics.focal) + np.asarray(intrinsics.center)


def unproject(uv: np.ndarray, depth: np.ndarray, intrinsics: Intrinsics, distortion: bool = True) -> np.ndarray:
    """Back-project pixels at given depths: (..., 2) px, (...) mm -> (..., 3) camera mm."""
    uv = _check_last(uv, 2, "unproject uv")
    depth = np.asarray(depth, dtype=np.float64)
    if depth.shape != uv.shape[:-1]:
        raise ValueError(f"unproject: depth shape {depth.shape} does not match uv {uv.shape}")
    xy = (uv - np.asarray(intrinsics.center)) / np.asarray(intrinsics.focal)
    if distortion:
        xy = undistort(xy, intrinsics)
    return np.concatenate([xy * depth[..., None], depth[..., None]], axis=-1)


# ---------------------------------------------------------------------------------------------
# Crops

CROP_MARGIN = 0.2  # the training framing (module docstring)


@dataclass(frozen=True)
class CropBox:
    """Square crop in image pixels: top-left corner (x0, y0) and side length, all floats."""

    x0: float
    y0: float
    side: float

    def __post_init__(self) -> None:
        if not np.isfinite([self.x0, self.y0, self.side]).all() or self.side <= 0:
            raise ValueError(f"CropBox: need finite corner and side > 0, got {self}")

    @classmethod
    def around(cls, center: tuple[float, float], side: float) -> "CropBox":
        return cls(float(center[0]) - side / 2.0, float(center[1]) - side / 2.0, float(side))

    @property
    def center(self) -> tuple[float, float]:
        return (self.x0 + self.side / 2.0, self.y0 + self.side / 2.0)

    def as_array(self) -> np.ndarray:
        return np.array([self.x0, self.y0, self.side], dtype=np.float64)


def image_to_crop(uv: np.ndarray, box: CropBox, crop_size: int) -> np.ndarray:
    """Image pixels (..., 2) -> crop pixels (..., 2)."""
    uv = _check_last(uv, 2, "image_to_crop uv")
    return (uv - np.array([box.x0, box.y0])) * (crop_size / box.side)


def crop_to_image(uv: np.ndarray, box: CropBox, crop_size: int) -> np.ndarray:
    """Crop pixels (..., 2) -> image pixels (..., 2)."""
    uv = _check_last(uv, 2, "crop_to_image uv")
    return uv * (box.side / crop_size) + np.array([box.x0, box.y0])


def crop_affine(box: CropBox, crop_size: int) -> np.ndarray:
    """(2, 3) affine matrix mapping image pixels to crop pixels (for cv2.warpAffine)."""
    s = crop_size / box.side
    return np.array([[s, 0.0, -box.x0 * s], [0.0, s, -box.y0 * s]])


def inside_image(uv: np.ndarray, width: int, height: int) -> np.ndarray:
    """Which points lie inside a width x height image: (..., 2) pixels (centres at integers, so
    the image spans -0.5 .. width - 0.5) -> (...,) bool. The `in_frame` flag of training rows."""
    uv = np.asarray(uv, dtype=np.float64)
    if uv.shape[-1:] != (2,):
        raise ValueError(f"inside_image: expected (..., 2) points, got shape {uv.shape}")
    return (uv[..., 0] > -0.5) & (uv[..., 0] < width - 0.5) & (uv[..., 1] > -0.5) & (uv[..., 1] < height - 0.5)


def crop_image(image: np.ndarray, box: CropBox, crop_size: int) -> np.ndarray:
    """Resample the box of an (H, W, C) uint8 image to a (crop_size, crop_size, C) crop.

    Pixels outside the image are black. Uses area-like smoothing when shrinking a lot.
    """
    import cv2  # local import: the rest of this module needs only numpy

    if image.ndim != 3:
        raise ValueError(f"crop_image: expected (H, W, C) image, got shape {image.shape}")
    m = crop_affine(box, crop_size)
    return cv2.warpAffine(
        image, m, (crop_size, crop_size), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )


def crop_intrinsics(intrinsics: Intrinsics, box: CropBox, crop_size: int) -> Intrinsics:
    """Pinhole intrinsics of the crop seen as a virtual camera (distortion dropped)."""
    s = crop_size / box.side
    (fx, fy), (cx, cy) = intrinsics.focal, intrinsics.center
    return Intrinsics((fx * s, fy * s), ((cx - box.x0) * s, (cy - box.y0) * s),
                      width=crop_size, height=crop_size)


# ---------------------------------------------------------------------------------------------
# Human3.6M cameras shipped as package data


@lru_cache(maxsize=1)
def _h36m_facts() -> dict:
    text = resources.files("movnect").joinpath("resources/h36m_cameras.json").read_text()
    return json.loads(text)


def h36m_camera_ids() -> tuple[str, ...]:
    """The four camera ids in the dataset's canonical order."""
    return tuple(_h36m_facts()["camera_order"])


def h36m_subjects() -> tuple[str, ...]:
    return tuple(_h36m_facts()["extrinsics"].keys())


def h36m_camera(subject: str, camera_id: str) -> Camera:
    """Intrinsics and extrinsics of one Human3.6M camera for one subject (e.g. 'S9', '54138969')."""
    facts = _h36m_facts()
    if subject not in facts["extrinsics"]:
        raise ValueError(f"unknown Human3.6M subject {subject!r}; known: {sorted(facts['extrinsics'])}")
    if camera_id not in facts["intrinsics"]:
        raise ValueError(f"unknown Human3.6M camera {camera_id!r}; known: {facts['camera_order']}")
    i = facts["intrinsics"][camera_id]
    e = facts["extrinsics"][subject][camera_id]
    intr = Intrinsics(
        tuple(i["focal_length"]), tuple(i["center"]), tuple(i["radial_distortion"]),
        tuple(i["tangential_distortion"]), int(i["res_w"]), int(i["res_h"]),
    )
    return Camera(camera_id, intr, Extrinsics(tuple(e["orientation"]), tuple(e["translation"])))
