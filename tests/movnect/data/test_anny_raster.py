"""GL projection convention, vertex normals, and a rendered box where camera.project says."""
import numpy as np
import pytest

from movnect.camera import Intrinsics, project
from movnect.data.anny.raster import MAX_MATERIALS, Mesh, projection, vertex_normals
from movnect.data.anny.scene import box


def test_convention_projection_matches_camera_project():
    fx, fy, cx, cy, w, h = 300.0, 310.0, 60.0, 50.0, 128, 96
    p = projection(fx, fy, cx, cy, w, h)
    pts = np.array([[0.1, -0.2, 2.0], [-0.5, 0.3, 4.0], [0.0, 0.0, 1.0]])
    clip = np.c_[pts, np.ones(3)] @ p.T
    ndc = clip[:, :3] / clip[:, 3:]
    # GL window coordinates (origin bottom-left, pixel centres at +0.5) -> image pixels (v down)
    u = (ndc[:, 0] + 1) / 2 * w - 0.5
    v = (1 - ndc[:, 1]) / 2 * h - 0.5
    np.testing.assert_allclose(np.c_[u, v], project(pts, Intrinsics((fx, fy), (cx, cy))), atol=1e-9)
    assert np.all(np.abs(ndc[:, 2]) < 1)


def test_vertex_normals_follow_the_winding_and_are_unit():
    quad = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.0]])
    n = vertex_normals(quad, np.array([[0, 1, 2], [0, 2, 3]]))
    np.testing.assert_allclose(n, np.tile([0, 0, 1.0], (4, 1)), atol=1e-12)
    pos, nrm, _, faces = box([0, 0, 0], [1, 2, 3], 0.3, 0)  # box faces: flat, +-1 along the given normals
    np.testing.assert_allclose(np.abs(np.sum(vertex_normals(pos, faces) * nrm, axis=1)), 1.0, atol=1e-12)


def test_mesh_checks_shapes():
    with pytest.raises(ValueError, match=r"normals must be \(3, 3\)"):
        Mesh(np.zeros((3, 3)), np.zeros((2, 3)), np.zeros((3, 3)), 0, np.zeros((1, 3)))


def test_rendered_box_lands_where_project_says():
    pytest.importorskip("moderngl")
    from movnect.data.anny import RendererUnavailable
    from movnect.data.anny.raster import Rasterizer

    try:
        r = Rasterizer(64)
    except RendererUnavailable as exc:
        pytest.skip(str(exc))
    try:
        # a 0.4 m cube 3 m in front of a camera at the origin looking along +x (world z up)
        pos, nrm, mat, faces = box([3.0, 0.0, -0.2], [0.4, 0.4, 0.4], 0.0, 0)
        view = np.eye(4)
        view[:3, :3] = [[0, -1, 0], [0, 0, -1], [1, 0, 0]]   # world -> camera (x right, y down, z fwd)
        intr = Intrinsics((80.0, 80.0), (31.5, 31.5))
        mats = {"color_a": np.ones((1, 3)), "color_b": np.ones((1, 3)), "pattern": np.array([[0, 1, 0, 0]]),
                "axis": np.array([[0, 0, 1.0]])}
        light = {"sky": np.ones(3) * 0.5, "ground": np.ones(3) * 0.5, "light_dir": np.array([1.0, 0, 0]),
                 "light_col": np.ones(3) * 0.5}
        img = r.render([Mesh(pos, nrm, pos, mat, faces)], projection(80, 80, 31.5, 31.5, 64, 64), view, mats, light)
        assert img.shape == (64, 64, 3) and img.dtype == np.uint8
        mask = img.max(axis=2) > 0
        ys, xs = np.nonzero(mask)
        corners = (pos - [0, 0, 0]) @ view[:3, :3].T
        uv = project(corners, intr)
        assert abs(xs.min() - uv[:, 0].min()) <= 1.5 and abs(xs.max() - uv[:, 0].max()) <= 1.5
        assert abs(ys.min() - uv[:, 1].min()) <= 1.5 and abs(ys.max() - uv[:, 1].max()) <= 1.5
        # anti-aliased: the box's edge pixels are partly covered
        assert len(np.unique(img[..., 0])) > 3
        with pytest.raises(ValueError, match=f"at most {MAX_MATERIALS} materials"):
            big = {k: np.repeat(v, MAX_MATERIALS + 1, 0) for k, v in mats.items()}
            r.render([], np.eye(4), view, big, light)
    finally:
        r.release()


def test_background_once_plus_person_over_it_equals_one_pass():
    """render.py draws the static room once per sequence and the person over it per frame."""
    pytest.importorskip("moderngl")
    import cv2

    from movnect.data.anny import RendererUnavailable
    from movnect.data.anny.raster import Rasterizer

    try:
        r = Rasterizer(64)
    except RendererUnavailable as exc:
        pytest.skip(str(exc))
    try:
        room = box([0.0, 0.0, 0.0], [8.0, 8.0, 3.0], 0.3, 1, inward=True)
        near = box([2.0, 0.3, 0.0], [0.3, 0.3, 0.8], 0.0, 2)     # furniture in front of the person
        far = box([3.0, 0.0, 0.0], [0.4, 0.4, 1.7], 0.0, 0)      # "the person"
        scene = [np.concatenate([a[i] for a in (room, near)]) if i < 3 else
                 np.concatenate([room[3], near[3] + len(room[0])]) for i in range(4)]
        mesh = lambda g: Mesh(g[0], g[1], g[0], g[2], g[3])  # noqa: E731
        view = np.eye(4)
        view[:3, :3] = [[0, -1, 0], [0, 0, -1], [1, 0, 0]]
        view[:3, 3] = -view[:3, :3] @ np.array([0.0, 0.0, 1.0])
        rng = np.random.default_rng(0)
        mats = {"color_a": rng.uniform(0.1, 0.9, (3, 3)), "color_b": rng.uniform(0.1, 0.9, (3, 3)),
                "pattern": np.array([[0, 1, 0, 0], [7, 2, 0, 0], [1, 4, 0, 0]]), "axis": np.array([[0, 0, 1.0]] * 3)}
        light = {"sky": np.ones(3) * 0.4, "ground": np.ones(3) * 0.2, "light_dir": np.array([0.3, 0.2, -1.0]),
                 "light_col": np.ones(3) * 0.7}
        f = 60.0
        one = r.render([mesh(far), mesh(scene)], projection(f, f, 31.5, 31.5, 64, 64), view, mats, light)
        # background over image px [-16, 80) at 1.25x the crop's density, resampled into the crop
        q, x0 = 1.25, -16.0
        bg = r.render_background([mesh(scene)], 120, 120, projection(f * q, f * q, (31.5 - x0) * q, (31.5 - x0) * q,
                                                                      120, 120), view, mats, light)
        warp = np.array([[q, 0.0, -x0 * q], [0.0, q, -x0 * q]])
        back = cv2.warpAffine(bg, warp, (64, 64), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        rgba = r.render_over([mesh(scene)], [mesh(far)], projection(f, f, 31.5, 31.5, 64, 64), view, mats, light)
        a = rgba[..., 3:].astype(np.float64) / 255
        two = rgba[..., :3] + (1 - a) * back
        assert 0.05 < a.mean() < 0.5 and a[a > 0].min() < 1          # partial coverage on edges
        assert np.abs(two - one).mean() < 4.0                       # same picture up to resampling
        hidden = (a[..., 0] == 0) & (np.abs(one.astype(float) - r.render([mesh(scene)], projection(
            f, f, 31.5, 31.5, 64, 64), view, mats, light)).sum(axis=2) < 1)
        assert hidden.mean() > 0.5
    finally:
        r.release()


def test_anny_triangles_face_outward_so_culling_keeps_the_silhouette(anny_renderer):
    """render_over(cull=True) relies on Anny's winding: culled and unculled coverage agree."""
    import movnect.data.anny.raster as R

    seen = {}
    real = R.Rasterizer.render_over

    def spy(self, occ, meshes, *a, **k):
        seen["call"] = (occ, meshes, a)
        return real(self, occ, meshes, *a, **k)

    R.Rasterizer.render_over = spy
    try:
        anny_renderer.render(0, 1)
    finally:
        R.Rasterizer.render_over = real
    occ, meshes, a = seen["call"]
    culled = anny_renderer.raster.render_over([], meshes[:1], *a[:4], cull=True)
    full = anny_renderer.raster.render_over([], meshes[:1], *a[:4], cull=False)
    assert full[..., 3].sum() > 0
    assert abs(int(culled[..., 3].sum()) - int(full[..., 3].sum())) <= 0.01 * full[..., 3].sum()


def test_vertex_normals_with_precomputed_incidence_agree():
    from movnect.data.anny.raster import face_incidence

    rng = np.random.default_rng(0)
    v = rng.normal(size=(50, 3))
    f = rng.integers(0, 50, (80, 3))
    np.testing.assert_allclose(vertex_normals(v, f, face_incidence(f, 50)), vertex_normals(v, f), atol=1e-12)


def test_photo_material_shows_the_photo():
    """Pattern 9 samples the photo texture array at the UV carried in the texture coordinate."""
    pytest.importorskip("moderngl")
    from movnect.data.anny import RendererUnavailable
    from movnect.data.anny.raster import Rasterizer

    photo = np.zeros((2, 64, 64, 3), np.uint8)
    photo[1, :32] = (250, 20, 20)      # layer 1: red top half, blue bottom half
    photo[1, 32:] = (20, 20, 250)
    try:
        r = Rasterizer(32, samples=0, photos=photo)
    except RendererUnavailable as exc:
        pytest.skip(str(exc))
    try:
        # a square facing the camera filling the view, UV (0, 0) bottom-left
        pos = np.array([[-1, 1, 2.0], [1, 1, 2.0], [1, -1, 2.0], [-1, -1, 2.0]])   # camera frame: y down
        uvw = np.array([[0, 0, 5.0], [1, 0, 5.0], [1, 1, 5.0], [0, 1, 5.0]])
        mesh = Mesh(pos, np.tile([0, 0, -1.0], (4, 1)), uvw, 0, np.array([[0, 1, 2], [0, 2, 3]]))
        mats = {"color_a": np.ones((1, 3)), "color_b": np.ones((1, 3)), "pattern": np.array([[9, 1, 0, 1]]),
                "axis": np.array([[0, 0, 1.0]])}
        light = {"sky": np.ones(3), "ground": np.ones(3), "light_dir": np.array([0, 0, 1.0]), "light_col": np.zeros(3)}
        img = r.render([mesh], projection(32, 32, 15.5, 15.5, 32, 32), np.eye(4), mats, light)
        top, bottom = img[:12].reshape(-1, 3).mean(axis=0), img[-12:].reshape(-1, 3).mean(axis=0)
        assert top[0] > 200 and top[2] < 80 and bottom[2] > 200 and bottom[0] < 80
    finally:
        r.release()
