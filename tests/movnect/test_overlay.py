import numpy as np
import pytest

from movnect import overlay
from movnect import skeleton as sk


def t_pose_2d() -> np.ndarray:
    j = np.zeros((17, 2))
    j[:, 0] = 320 + np.arange(17) * 3  # distinct points
    j[:, 1] = 100 + np.arange(17) * 15
    return j


def test_draw_2d_colours_left_and_right_bones():
    img = np.zeros((480, 640, 3), np.uint8)
    j = np.zeros((17, 2))
    j[:] = (320, 240)
    j[sk.LEFT_JOINTS, 0] = 500   # left limbs to the right of the image
    j[sk.RIGHT_JOINTS, 0] = 100
    j[sk.LEFT_JOINTS, 1] = j[sk.RIGHT_JOINTS, 1] = np.linspace(100, 400, 6)
    overlay.draw_skeleton_2d(img, j)
    left = img[:, 480:620].reshape(-1, 3)
    right = img[:, 20:200].reshape(-1, 3)
    assert (np.abs(left.astype(int) - overlay.LEFT_BGR).sum(1) < 30).any()
    assert (np.abs(right.astype(int) - overlay.RIGHT_BGR).sum(1) < 30).any()
    assert not (np.abs(left.astype(int) - overlay.RIGHT_BGR).sum(1) < 30).any()


def test_low_confidence_joints_are_not_drawn():
    img = np.zeros((480, 640, 3), np.uint8)
    overlay.draw_skeleton_2d(img, t_pose_2d(), confidence=np.zeros(17))
    assert img.max() == 0


def test_render_3d_is_a_panel_and_view_rotation_is_orthonormal():
    r = overlay.view_rotation(0.7, -0.3)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    j3 = np.zeros((17, 3))
    j3[10] = (0, -700, 0)  # head above the pelvis (y down)
    panel = overlay.render_skeleton_3d(j3, size=200, azimuth=0.0, elevation=0.0)
    empty = overlay.render_skeleton_3d(None, size=200, azimuth=0.0, elevation=0.0)
    assert panel.shape == (200, 200, 3) and panel.dtype == np.uint8
    diff = np.abs(panel.astype(int) - empty.astype(int)).sum(-1) > 0
    ys = np.nonzero(diff)[0]
    assert ys.min() < 100 - 50  # the head is drawn in the upper half
    with pytest.raises(ValueError, match=r"\(17, 3\)"):
        overlay.render_skeleton_3d(np.zeros((16, 3)))


def test_compose_side_by_side():
    out = overlay.compose(np.zeros((480, 640, 3), np.uint8), np.zeros((200, 200, 3), np.uint8))
    assert out.shape == (480, 1120, 3)
