import cv2
import numpy as np
import pytest

from movnect import camera as cam

INTR = cam.Intrinsics((1000.0, 1100.0), (500.0, 400.0), (-0.2, 0.05, 0.01), (0.001, -0.002), 1000, 800)


def test_convention_camera_axes_pinhole():
    k = INTR.without_distortion()
    # straight ahead -> principal point; +x right -> larger u; +y down -> larger v
    np.testing.assert_allclose(cam.project(np.array([0.0, 0.0, 2000.0]), k), (500.0, 400.0))
    u, v = cam.project(np.array([100.0, 0.0, 2000.0]), k)
    assert u == pytest.approx(500.0 + 1000.0 * 100 / 2000) and v == pytest.approx(400.0)
    u, v = cam.project(np.array([0.0, 100.0, 2000.0]), k)
    assert v == pytest.approx(400.0 + 1100.0 * 100 / 2000) and u == pytest.approx(500.0)


def test_distortion_hand_computed():
    x, y = 0.1, -0.2
    r2 = x * x + y * y
    radial = 1 - 0.2 * r2 + 0.05 * r2**2 + 0.01 * r2**3
    xd = x * radial + 2 * 0.001 * x * y + (-0.002) * (r2 + 2 * x * x)
    yd = y * radial + 0.001 * (r2 + 2 * y * y) + 2 * (-0.002) * x * y
    uv = cam.project(np.array([x * 3000, y * 3000, 3000.0]), INTR)
    np.testing.assert_allclose(uv, (1000 * xd + 500, 1100 * yd + 400), rtol=0, atol=1e-9)


def test_projection_matches_opencv():
    rng = np.random.default_rng(1)
    pts = np.column_stack([rng.uniform(-800, 800, 50), rng.uniform(-900, 900, 50), rng.uniform(2000, 6000, 50)])
    dist = np.array([INTR.radial[0], INTR.radial[1], INTR.tangential[0], INTR.tangential[1], INTR.radial[2]])
    ref, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), INTR.matrix, dist)
    np.testing.assert_allclose(cam.project(pts, INTR), ref[:, 0], atol=1e-6)


def test_undistort_inverts_distort_and_unproject_inverts_project():
    rng = np.random.default_rng(2)
    xy = rng.uniform(-0.4, 0.4, (100, 2))
    np.testing.assert_allclose(cam.undistort(cam.distort(xy, INTR), INTR), xy, atol=1e-9)
    pts = np.column_stack([rng.uniform(-500, 500, 20), rng.uniform(-500, 500, 20), rng.uniform(2000, 5000, 20)])
    back = cam.unproject(cam.project(pts, INTR), pts[:, 2], INTR)
    np.testing.assert_allclose(back, pts, atol=1e-4)


def test_world_camera_round_trip_and_convention():
    c = cam.h36m_camera("S9", "55011271")
    rng = np.random.default_rng(4)
    pw = rng.normal(0, 1000, (30, 3))
    np.testing.assert_allclose(cam.camera_to_world(cam.world_to_camera(pw, c.extrinsics), c.extrinsics), pw, atol=1e-9)
    # the camera centre maps to the camera-frame origin
    np.testing.assert_allclose(cam.world_to_camera(np.array(c.extrinsics.translation), c.extrinsics), 0, atol=1e-9)


@pytest.mark.parametrize("subject", ["S1", "S5", "S6", "S7", "S8", "S9", "S11"])
def test_convention_h36m_cameras_see_the_capture_area(subject):
    # A person standing at the middle of the capture floor (world z up, ~0.9 m pelvis height)
    # is in front of every camera, inside its image, and upright (head above pelvis in v).
    pelvis, head = np.array([0.0, 0.0, 900.0]), np.array([0.0, 0.0, 1700.0])
    for cid in cam.h36m_camera_ids():
        c = cam.h36m_camera(subject, cid)
        pc = cam.world_to_camera(np.stack([pelvis, head]), c.extrinsics)
        assert (pc[:, 2] > 2000).all()
        uv = cam.project(pc, c.intrinsics)
        assert (0 < uv[:, 0]).all() and (uv[:, 0] < c.intrinsics.width).all()
        assert (0 < uv[:, 1]).all() and (uv[:, 1] < c.intrinsics.height).all()
        assert uv[1, 1] < uv[0, 1]


def test_h36m_camera_errors():
    with pytest.raises(ValueError, match="unknown Human3.6M subject 'S2'"):
        cam.h36m_camera("S2", "54138969")
    with pytest.raises(ValueError, match="unknown Human3.6M camera"):
        cam.h36m_camera("S1", "123")


def test_crop_round_trip_and_warp_agreement():
    box = cam.CropBox(120.5, 40.0, 300.0)
    uv = np.array([[150.0, 100.0], [400.0, 300.0]])
    np.testing.assert_allclose(cam.crop_to_image(cam.image_to_crop(uv, box, 256), box, 256), uv)
    np.testing.assert_allclose(cam.image_to_crop(np.array([box.x0, box.y0]), box, 256), [0, 0])
    # a bright dot lands where image_to_crop says it does after cv2.warpAffine
    img = np.zeros((480, 640, 3), np.uint8)
    img[200:203, 300:303] = 255  # centre (301, 201)
    crop = cam.crop_image(img, box, 256)
    ys, xs = np.nonzero(crop[..., 0] > 0)
    w = crop[ys, xs, 0].astype(float)
    centroid = np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])
    np.testing.assert_allclose(centroid, cam.image_to_crop(np.array([301.0, 201.0]), box, 256), atol=0.15)


def test_crop_intrinsics_projects_like_image_then_crop():
    box = cam.CropBox(300.0, 200.0, 512.0)
    k = INTR.without_distortion()
    pts = np.array([[100.0, -50.0, 3000.0], [-200.0, 300.0, 4000.0]])
    via_image = cam.image_to_crop(cam.project(pts, k), box, 256)
    np.testing.assert_allclose(cam.project(pts, cam.crop_intrinsics(k, box, 256)), via_image, atol=1e-9)


def test_bad_shapes_and_boxes():
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        cam.project(np.zeros((5, 2)), INTR)
    with pytest.raises(ValueError, match="in front of the camera"):
        cam.project(np.array([0.0, 0.0, -1.0]), INTR)
    with pytest.raises(ValueError, match="side > 0"):
        cam.CropBox(0.0, 0.0, 0.0)


def _project_point_radial(X, i):
    """The Human3.6M release's ProjectPointRadial (as in 3d-pose-baseline's cameras.py)."""
    f, c = np.array(i.focal), np.array(i.center)
    k, p = np.array(i.radial), np.array(i.tangential)
    xy = X[:, :2] / X[:, 2:]
    r2 = (xy ** 2).sum(1)
    radial = 1 + k[0] * r2 + k[1] * r2 ** 2 + k[2] * r2 ** 3
    tan = p[0] * xy[:, 1] + p[1] * xy[:, 0]
    return (xy * (radial + tan)[:, None] + np.outer(r2, p[::-1])) * f + c


def test_difference_to_the_release_projection_is_as_documented():
    """camera.py's docstring: up to ~1.4 px in the corners, < 0.1 px near the centre."""
    for cid in cam.h36m_camera_ids():
        i = cam.h36m_camera("S1", cid).intrinsics
        u, v = np.meshgrid(np.linspace(0, i.width - 1, 41), np.linspace(0, i.height - 1, 41))
        xy = np.stack([(u.ravel() - i.center[0]) / i.focal[0], (v.ravel() - i.center[1]) / i.focal[1]], 1)
        X = np.concatenate([xy * 4000.0, np.full((len(xy), 1), 4000.0)], 1)
        d = np.linalg.norm(cam.project(X, i) - _project_point_radial(X, i), axis=1)
        assert 0.5 < d.max() < 1.5 and np.median(d) < 0.3
        assert d[np.linalg.norm(xy, axis=1) < 0.15].max() < 0.1


def test_inside_image_uses_pixel_centres():
    uv = np.array([[-0.49, 0.0], [-0.51, 0.0], [639.49, 479.49], [639.51, 10.0], [5.0, 479.6]])
    assert cam.inside_image(uv, 640, 480).tolist() == [True, False, True, False, False]
    assert cam.inside_image(np.zeros((2, 3, 2)), 4, 4).shape == (2, 3)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        cam.inside_image(np.zeros((3, 3)), 4, 4)
