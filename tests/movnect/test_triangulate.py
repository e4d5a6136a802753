"""DLT triangulation against known points and views, robust view rejection."""
import numpy as np
import pytest

from movnect.camera import Intrinsics
from movnect.triangulate import View, reprojection_errors, triangulate, triangulate_robust


def _views(n=4):
    out = []
    for i in range(n):
        a = 2 * np.pi * i / n
        C = np.array([3000 * np.cos(a), 3000 * np.sin(a), 1500.0])
        z = -C / np.linalg.norm(C)            # look at the origin
        x = np.cross(z, [0, 0, 1.0])
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        R = np.stack([x, y, z])               # rows: camera axes in world coordinates
        k = Intrinsics((1000.0, 1000.0), (500.0, 500.0), radial=(-0.05, 0.01, 0.0), width=1000, height=1000)
        out.append(View(f"c{i}", k, R, C))
    return out


def test_view_projection_conventions():
    v = _views(1)[0]
    assert np.allclose(np.linalg.det(v.R), 1.0)
    cam = v.to_camera(np.zeros(3))
    assert cam[2] > 0 and np.allclose(cam[:2], 0)          # the origin lies on the optical axis
    assert np.allclose(v.project(np.zeros(3)), [500, 500])
    assert np.isnan(v.project(2 * v.C)).all()                # behind the camera


def test_triangulation_recovers_points_with_distortion():
    rng = np.random.default_rng(0)
    views = _views()
    pts = rng.uniform(-500, 500, (17, 3))
    uv = np.stack([v.project(pts) for v in views])
    got = triangulate(views, uv)
    assert np.abs(got - pts).max() < 1e-6
    assert reprojection_errors(views, got, uv).max() < 1e-6
    w = np.ones((4, 17))
    w[1:, 0] = 0  # one view only: undetermined
    assert np.isnan(triangulate(views, uv, w)[0]).all()
    with pytest.raises(ValueError, match="expected uv"):
        triangulate(views, uv[:2])


def test_robust_triangulation_drops_a_bad_view():
    rng = np.random.default_rng(1)
    views = _views()
    pts = rng.uniform(-500, 500, (5, 3))
    uv = np.stack([v.project(pts) for v in views])
    uv[2, 3] += [80.0, -60.0]  # a wrong detection in view 2
    naive = triangulate(views, uv)
    assert np.linalg.norm(naive[3] - pts[3]) > 10
    got, used = triangulate_robust(views, uv, np.ones((4, 5)), max_error_px=5.0)
    assert np.abs(got - pts).max() < 1e-6
    assert not used[2, 3] and used[:, [0, 1, 2, 4]].all()
