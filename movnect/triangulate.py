"""Multi-view geometry for references made from several calibrated cameras.

A view is (Intrinsics, R, C): X_cam = R (X_world - C), camera axes x right, y down, z
forward, millimetres (movnect.camera's conventions). Points are triangulated by the linear
DLT on undistorted normalised coordinates, weighted per view, and views whose reprojection
error is large are dropped one at a time (`triangulate_robust`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from movnect.camera import Intrinsics, project, undistort


@dataclass(frozen=True)
class View:
    """A calibrated camera: world -> camera rotation R (3, 3) and centre C (3,) in mm."""

    name: str
    intrinsics: Intrinsics
    R: np.ndarray
    C: np.ndarray

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) mm -> camera frame (..., 3) mm."""
        return (np.asarray(points, dtype=np.float64) - self.C) @ self.R.T

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) mm -> distorted image pixels (..., 2); NaN for points that
        are not finite or not in front of the camera."""
        cam = self.to_camera(points)
        ok = np.isfinite(cam).all(-1) & (cam[..., 2] > 0)
        out = np.full(cam.shape[:-1] + (2,), np.nan)
        out[ok] = project(cam[ok], self.intrinsics)
        return out

    def normalised(self, uv: np.ndarray) -> np.ndarray:
        """Image pixels (..., 2) -> undistorted normalised coordinates (..., 2)."""
        k = self.intrinsics
        xy = (np.asarray(uv, dtype=np.float64) - np.array(k.center)) / np.array(k.focal)
        return undistort(xy, k)


def triangulate(views: list[View], uv: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted linear (DLT) triangulation.

    Args:
        views: V calibrated views.
        uv: (V, J, 2) image pixels of J points in each view.
        weights: (V, J) >= 0 (0 = not seen), or None.
    Returns:
        (J, 3) world mm; NaN for points with fewer than two weighted views.
    """
    uv = np.asarray(uv, dtype=np.float64)
    if uv.ndim != 3 or uv.shape[0] != len(views) or uv.shape[2] != 2:
        raise ValueError(f"expected uv (V={len(views)}, J, 2), got {uv.shape}")
    w = np.ones(uv.shape[:2]) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != uv.shape[:2]:
        raise ValueError(f"expected weights {uv.shape[:2]}, got {w.shape}")
    out = np.full((uv.shape[1], 3), np.nan)
    rows = []
    for v, view in enumerate(views):
        P = np.hstack([view.R, -(view.R @ view.C)[:, None]])  # normalised camera matrix (3, 4)
        xy = view.normalised(uv[v])
        rows.append((P, xy))
    for j in range(uv.shape[1]):
        A = []
        for v, (P, xy) in enumerate(rows):
            if w[v, j] > 0 and np.isfinite(xy[j]).all():
                A.append(w[v, j] * (xy[j, 0] * P[2] - P[0]))
                A.append(w[v, j] * (xy[j, 1] * P[2] - P[1]))
        if len(A) >= 4:
            _, _, vt = np.linalg.svd(np.asarray(A))
            X = vt[-1]
            if abs(X[3]) > 1e-12:
                out[j] = X[:3] / X[3]
    return out


def reprojection_errors(views: list[View], points: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """(V, J) pixel distance between uv (V, J, 2) and the projections of points (J, 3); inf
    where a point cannot be projected into a view."""
    err = np.stack([np.linalg.norm(v.project(points) - uv[i], axis=-1) for i, v in enumerate(views)])
    return np.where(np.isnan(err), np.inf, err)


def triangulate_robust(views: list[View], uv: np.ndarray, weights: np.ndarray,
                       max_error_px: float, min_views: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Triangulate each point, then drop its worst view while that view's reprojection error
    exceeds `max_error_px` and more than `min_views` views remain.

    Returns (points (J, 3) world mm, NaN where fewer than min_views agree; used (V, J) bool).
    """
    w = np.asarray(weights, dtype=np.float64).copy()
    for _ in range(len(views)):
        pts = triangulate(views, uv, w)
        err = np.where(w > 0, reprojection_errors(views, np.nan_to_num(pts), uv), 0.0)
        worst = err.argmax(axis=0)
        bad = (err.max(axis=0) > max_error_px) & ((w > 0).sum(axis=0) > min_views)
        if not bad.any():
            break
        w[worst[bad], np.flatnonzero(bad)] = 0.0
    pts = triangulate(views, uv, w)
    err = np.where(w > 0, reprojection_errors(views, np.nan_to_num(pts), uv), 0.0)
    ok = ((w > 0).sum(axis=0) >= min_views) & (err.max(axis=0) <= max_error_px)
    pts[~ok] = np.nan
    return pts, (w > 0) & ok[None]
