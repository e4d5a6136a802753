"""Cameras (axes, FOV, the person in view), quaternions, rooms containing camera and person, lights."""
import numpy as np
import pytest

from movnect.camera import project, world_to_camera
from movnect.data.anny.scene import (
    CAMERA_KINDS, look_at, matrix_to_quaternion, sample_camera, sample_light, sample_room,
)
from movnect.rotations import quaternion_to_matrix


def test_matrix_quaternion_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(50):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        q = q if q[0] >= 0 else -q
        np.testing.assert_allclose(matrix_to_quaternion(quaternion_to_matrix(q)), q, atol=1e-9)


def test_look_at_axes_convention():
    r = look_at(np.array([0, 0, 1.0]), np.array([5, 0, 1.0]))
    np.testing.assert_allclose(r, [[0, -1, 0], [0, 0, -1], [1, 0, 0]], atol=1e-12)  # x right, y down, z fwd


@pytest.mark.parametrize("kind", CAMERA_KINDS[:3])
def test_cameras_see_the_person_with_user_like_fields_of_view(kind):
    rng = np.random.default_rng(1)
    for _ in range(20):
        person = np.array([0.3, -0.2, 0.95]) if kind in ("webcam", "phone") else np.array([0.0, 0.0, 0.95])
        cam = sample_camera(rng, kind, person, 0.4, 1.75)
        i = cam.intrinsics
        hfov = np.degrees(2 * np.arctan(i.width / 2 / i.focal[0]))
        if kind == "webcam":
            assert 55 <= hfov <= 80
        if kind == "phone":
            assert i.height > i.width and 40 <= hfov <= 55
        if kind in ("webcam", "phone"):
            body = np.array([person + [0, 0, dz] for dz in np.linspace(0.0, 0.8, 9)])  # pelvis to head
            pc = world_to_camera(body * 1000, cam.extrinsics)
            assert pc[:, 2].min() > 300
            uv = project(pc, i)
            inside = (uv[:, 0] > 0) & (uv[:, 0] < i.width) & (uv[:, 1] > 0) & (uv[:, 1] < i.height)
            assert inside.sum() >= 3
        else:
            assert i.radial == (0.0, 0.0, 0.0) and i.width == 1000


def test_room_contains_camera_and_person_and_lights_vary():
    rng = np.random.default_rng(2)
    cam = np.array([[2.0, 1.0, 1.1]])
    path = np.array([[0.0, 0.0], [0.4, 0.1]])
    room = sample_room(rng, cam, path, 0.45, (0.5, 0.5, 0.45, 0.0), (cam[0], np.array([0, 0, 1.0])), 8)
    lo, hi = room.positions.min(axis=0), room.positions.max(axis=0)
    for p in (cam[0], [*path[0], 1.0]):
        assert np.all(p[:2] > lo[:2]) and np.all(p[:2] < hi[:2])
    assert lo[2] == pytest.approx(0.0) and 2.3 < hi[2] < 3.4
    assert room.material.min() >= 8 and room.material.max() < 8 + len(room.materials["color_a"])
    dirs = np.array([sample_light(rng, room.floor_rgb)["light_dir"] for _ in range(30)])
    assert np.all(dirs[:, 2] < 0) and dirs[:, :2].std(axis=0).min() > 0.2   # from above, any side
