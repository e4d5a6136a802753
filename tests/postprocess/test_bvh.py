"""BVH writer: Euler convention against scipy, round trip through two independent readers
(pybvh, bvhio) within 0.1 mm, a valid file after every frame, repair, errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from postprocess.bvh import (
    BVH_NAMES, CAMERA_TO_BVH, BvhWriter, euler_zxy_to_matrix, matrix_to_euler_zxy, repair_bvh,
)
from postprocess.skeleton_fit import SkeletonFitter
from tests.postprocess.synthetic import CAMERA, SKELETON, make_sequence

pybvh = pytest.importorskip("pybvh")
bvhio = pytest.importorskip("bvhio")


@pytest.fixture(scope="module")
def fitted():
    seq = make_sequence(40, seed=11, noise2d=2.0, noise3d=20.0, drop=0.05)
    fitter = SkeletonFitter(SKELETON, CAMERA)
    return [fitter.fit(k, x, c, t) for k, x, c, t in zip(seq["k"], seq["x"], seq["conf"], seq["t"])]


def write(path, results, unit="cm"):
    with BvhWriter(path, SKELETON, 1 / 30, unit=unit) as w:
        for r in results:
            w.write_result(r)
    return w


def test_euler_zxy_convention_and_round_trip():
    rng = np.random.default_rng(0)
    ang = rng.uniform(-np.pi, np.pi, (200, 3))
    ang[:, 1] = rng.uniform(-np.pi / 2, np.pi / 2, 200)
    r = euler_zxy_to_matrix(ang)
    np.testing.assert_allclose(r, Rotation.from_euler("ZXY", ang).as_matrix(), atol=1e-12)  # intrinsic Rz Rx Ry
    np.testing.assert_allclose(matrix_to_euler_zxy(r), ang, atol=1e-9)
    lock = euler_zxy_to_matrix(np.array([0.3, np.pi / 2, 0.2]))                             # gimbal lock
    np.testing.assert_allclose(euler_zxy_to_matrix(matrix_to_euler_zxy(lock)), lock, atol=1e-9)


def test_round_trip_through_independent_readers(tmp_path, fitted):
    path = tmp_path / "fit.bvh"
    write(path, fitted)
    want_cm = np.stack([r.joints for r in fitted]) @ CAMERA_TO_BVH / 10.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = pybvh.read_bvh_file(path, world_up="+y")
    assert b.joint_names == list(BVH_NAMES) and b.frame_count == len(fitted)
    assert all(order == "ZXY" for order in b.euler_orders)
    assert np.abs(b.joint_positions() - want_cm).max() * 10.0 < 0.1          # mm
    root = bvhio.readAsHierarchy(str(path))
    names = [j.Name for j, _, _ in root.layout()]
    for frame in (0, 17, len(fitted) - 1):
        root.loadPose(frame)
        pos = {j.Name: np.array([*j.PositionWorld]) for j, _, _ in root.layout()}
        got = np.stack([pos[n] for n in BVH_NAMES])
        assert np.abs(got - want_cm[frame]).max() * 10.0 < 0.1
    assert set(BVH_NAMES) <= set(names)


def test_convention_y_up_and_units(tmp_path, fitted):
    write(tmp_path / "cm.bvh", fitted[:2])
    write(tmp_path / "mm.bvh", fitted[:2], unit="mm")
    text = (tmp_path / "cm.bvh").read_text()
    assert "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" in text
    assert text.count("CHANNELS 3 Zrotation Xrotation Yrotation") == 16
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cm = pybvh.read_bvh_file(tmp_path / "cm.bvh", world_up="+y")
        mm = pybvh.read_bvh_file(tmp_path / "mm.bvh", world_up="+y")
    rest = cm.rest_pose_positions()
    idx = cm.node_index
    assert rest[idx["Head"], 1] > rest[idx["Hips"], 1] > rest[idx["LeftFoot"], 1]      # Y up
    assert rest[idx["LeftUpLeg"], 0] > 0                                             # left = +X
    np.testing.assert_allclose(mm.joint_positions(), 10.0 * cm.joint_positions(), atol=1e-4)


def test_file_is_valid_after_every_frame_and_repairable(tmp_path, fitted):
    path = tmp_path / "stream.bvh"
    w = BvhWriter(path, SKELETON, 1 / 30)
    for i, r in enumerate(fitted[:5]):
        w.write_result(r)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert pybvh.read_bvh_file(path, world_up="+y").frame_count == i + 1    # not closed yet
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write_result(fitted[0])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])            # simulated crash mid-line
    assert repair_bvh(path) == 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert pybvh.read_bvh_file(path, world_up="+y").frame_count == 4
    bad = tmp_path / "bad.bvh"
    bad.write_text("HIERARCHY\n")
    with pytest.raises(ValueError, match="MOTION"):
        repair_bvh(bad)


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="frame_time"):
        BvhWriter(tmp_path / "a.bvh", SKELETON, 0.0)
    with pytest.raises(ValueError, match="unit"):
        BvhWriter(tmp_path / "a.bvh", SKELETON, 0.1, unit="inch")
    with BvhWriter(tmp_path / "a.bvh", SKELETON, 0.1) as w:
        with pytest.raises(ValueError, match=r"\(16, 3, 3\)"):
            w.write_frame(np.zeros(3), np.zeros((16, 3, 3)))
        rot = np.broadcast_to(np.eye(3), (17, 3, 3)).copy()
        with pytest.raises(ValueError, match="NaN"):
            w.write_frame(np.array([0.0, np.nan, 1.0]), rot)
        w.write_frame(np.zeros(3), rot)
    assert "Frames: 1 " in (tmp_path / "a.bvh").read_text()
