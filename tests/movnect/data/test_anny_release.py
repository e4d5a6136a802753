"""Anny people in the official release layout: prepare-h36m ingests it, its 2D is the projection
of its 3D with the release cameras, its 3D is what the renderer posed, the person is drawn where
the (distorted) projection puts the joints, determinism per seed, one-line CLI errors."""
import builtins
import json

import cdflib
import cv2
import h5py
import numpy as np
import pytest

from movnect import camera as cam
from movnect import cli, skeleton
from movnect.data.h36m import PrepareOptions, prepare_h36m
from movnect.data.h36m_release import CAMERA_OVERRIDE, read_poses, release_camera
from movnect.data.synthetic import SynthConfig, file_action_name

CFG = SynthConfig(subjects=("S1",), actions=("Walking",), subactions=1, frames=3, image_size=96, seed=5)
STEM = file_action_name("S1", "Walking", 0)


@pytest.fixture(scope="module")
def release_mod(anny_body):
    """The module under test (skips without moderngl or an EGL context, like the other Anny tests)."""
    pytest.importorskip("moderngl")
    from movnect.data.anny import RendererUnavailable, release
    from movnect.data.anny.raster import Rasterizer

    try:
        Rasterizer(16, samples=0).release()
    except RendererUnavailable as exc:
        pytest.skip(str(exc))
    return release


@pytest.fixture(scope="module")
def tree(tmp_path_factory, release_mod, anny_body):
    out = tmp_path_factory.mktemp("anny_release")
    names = []
    summary = release_mod.write_anny_release(out, CFG, progress=lambda n, d, t: names.append((n, d, t)), body=anny_body)
    assert summary["videos"] == 4 and summary["frames"] == 12
    assert names[-1] == (f"S1/{STEM}.60457274", 4, 4)
    return out


@pytest.fixture(scope="module")
def prepared(tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("anny_prepared") / "a.h5"
    summary = prepare_h36m(tree, out, PrepareOptions(frame_step=1, crop_size=32))
    assert summary.count("converted") == 4 and summary.count("skipped") == 0
    with h5py.File(out, "r") as f:
        return {k: f[k][...] for k in ("joints3d", "joints2d", "intrinsics", "extrinsics", "camera", "frame",
                                       "image_size")} | {
            "cameras": [c.decode() for c in f["names/cameras"][...]],
            "subjects": [s.decode() for s in f["names/subjects"][...]], "rows": int(f.attrs["rows"])}


def _pose(path):
    return np.asarray(cdflib.CDF(str(path)).varget("Pose"))


def test_official_layout_and_prepare_h36m_ingests_it(tree, prepared):
    features = tree / "S1" / "MyPoseFeatures"
    assert _pose(features / "D3_Positions" / f"{STEM}.cdf").shape == (1, 3, 96)
    for c in CFG.cameras:
        assert _pose(features / "D3_Positions_mono" / f"{STEM}.{c}.cdf").shape == (1, 3, 96)
        assert _pose(features / "D2_Positions" / f"{STEM}.{c}.cdf").shape == (1, 3, 64)
        cap = cv2.VideoCapture(str(tree / "S1" / "Videos" / f"{STEM}.{c}.mp4"))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3 and cap.get(cv2.CAP_PROP_FPS) == pytest.approx(50.0)
        assert int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 96
        cap.release()
    facts = json.loads((tree / CAMERA_OVERRIDE).read_text())  # below 1000 px: scaled real cameras
    assert facts["extrinsics"]["S1"]["54138969"]["translation"] == list(cam.h36m_camera("S1", "54138969").extrinsics.translation)
    assert prepared["rows"] == 12 and prepared["subjects"] == ["S1"] and prepared["cameras"] == list(CFG.cameras)
    np.testing.assert_array_equal(prepared["frame"], np.tile(np.arange(3), 4))


def test_prepared_2d_is_the_projection_of_the_3d_with_the_release_cameras(tree, prepared):
    for r in range(prepared["rows"]):
        c = prepared["cameras"][prepared["camera"][r]]
        camera = release_camera(tree, "S1", c)
        assert tuple(prepared["image_size"][r]) == (camera.intrinsics.width, camera.intrinsics.height)
        assert camera.intrinsics.radial != (0.0, 0.0, 0.0)  # the real lenses, distortion included
        uv = cam.project(prepared["joints3d"][r].astype(np.float64), camera.intrinsics)
        np.testing.assert_allclose(prepared["joints2d"][r], uv, atol=2e-3)
        # the release's own per-camera files agree (float32 storage)
        k = prepared["frame"][r]
        d2 = _pose(tree / f"S1/MyPoseFeatures/D2_Positions/{STEM}.{c}.cdf").reshape(-1, 32, 2)[k]
        mono = _pose(tree / f"S1/MyPoseFeatures/D3_Positions_mono/{STEM}.{c}.cdf").reshape(-1, 32, 3)[k]
        np.testing.assert_allclose(skeleton.from_h36m32(d2), prepared["joints2d"][r], atol=1e-3)
        np.testing.assert_allclose(skeleton.from_h36m32(mono), prepared["joints3d"][r], atol=0.05)


def test_prepared_3d_is_what_the_renderer_posed_feet_on_the_floor(tree, prepared, release_mod, anny_body):
    source = release_mod.AnnyReleaseSource(CFG, body=anny_body)   # an independent second render of the take
    try:
        take = source.take(source.subject("S1"), "Walking", 0)
    finally:
        source.close()
    assert take.joints17.shape == (3, 17, 3) and take.joints32.shape == (3, 32, 3)
    np.testing.assert_array_equal(skeleton.from_h36m32(take.joints32), take.joints17)
    np.testing.assert_allclose(read_poses(tree / f"S1/MyPoseFeatures/D3_Positions/{STEM}.cdf"), take.joints32,
                               atol=0.01)  # mm: float32 CDF
    for r in range(prepared["rows"]):
        e = prepared["extrinsics"][r]
        world = cam.camera_to_world(prepared["joints3d"][r].astype(np.float64), cam.Extrinsics(tuple(e[:4]), tuple(e[4:])))
        np.testing.assert_allclose(world, take.joints17[prepared["frame"][r]], atol=0.05)  # mm, float32 storage
    z = take.performance.vertices[..., 2]
    np.testing.assert_allclose(z.min(axis=1), 0.0, atol=1e-9)        # the lowest vertex on the floor
    assert np.all(take.joints17[:, [3, 6], 2] < 150.0)                 # ankles near it (mm)


def test_person_is_drawn_where_the_distorted_projection_puts_the_joints(release_mod, anny_body):
    cfg = SynthConfig(**{**CFG.__dict__, "image_size": 160, "cameras": ("55011271",)})
    source = release_mod.AnnyReleaseSource(cfg, body=anny_body)
    try:
        take = source.take(source.subject("S1"), "Walking", 0)
        camera = source.subject("S1").cameras[0]
        with_person = source.frame(take, camera, 1).astype(np.int16)
        room = source.frame(take, camera, 1, person=False).astype(np.int16)
    finally:
        source.close()
    assert with_person.shape == (160, 160, 3)
    changed = (np.abs(with_person - room).max(axis=2) > 30).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(changed)
    ys, xs = np.nonzero(labels == 1 + np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    j3 = cam.world_to_camera(take.joints17[1], camera.extrinsics)
    uv = cam.project(j3, camera.intrinsics)
    pad = camera.intrinsics.focal[0] * 250.0 / j3[0, 2]  # 25 cm at the body: hands, feet, hair beyond the joints
    assert len(xs) > 50
    assert xs.min() >= uv[:, 0].min() - pad and xs.max() <= uv[:, 0].max() + pad
    assert ys.min() >= uv[:, 1].min() - pad and ys.max() <= uv[:, 1].max() + pad
    # and reaches out to them: the person is not drawn smaller (e.g. without the lens warp)
    assert xs.max() - xs.min() >= 0.8 * np.ptp(uv[:, 0]) and ys.max() - ys.min() >= np.ptp(uv[:, 1])
    for u, v in uv[[0, 7, 8]].round().astype(int):  # pelvis, spine, thorax: inside the body
        assert changed[v - 1:v + 2, u - 1:u + 2].any()


def _frames(path):
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        out.append(img)
    cap.release()
    return np.stack(out)


def test_deterministic_per_seed(tree, tmp_path, release_mod, anny_body):
    # one camera of the fixture's four, written again: same pose data, same decoded frames (the
    # room and the GL target do not depend on which cameras are written)
    cfg1 = SynthConfig(**{**CFG.__dict__, "cameras": ("58860488",)})
    again = tmp_path / "again"
    release_mod.write_anny_release(again, cfg1, body=anny_body)
    cdf, video = f"S1/MyPoseFeatures/D3_Positions/{STEM}.cdf", f"S1/Videos/{STEM}.58860488.mp4"
    assert _pose(again / cdf).tobytes() == _pose(tree / cdf).tobytes()
    np.testing.assert_array_equal(_frames(again / video), _frames(tree / video))
    # another seed: another body and motion
    source = release_mod.AnnyReleaseSource(SynthConfig(**{**CFG.__dict__, "seed": 6}), body=anny_body)
    try:
        other = source.take(source.subject("S1"), "Walking", 0).joints32
    finally:
        source.close()
    assert np.abs(other - read_poses(tree / cdf)).max() > 10.0   # mm


def test_cli_writes_the_release_layout(tmp_path, capsys, release_mod, anny_body, monkeypatch):
    monkeypatch.setattr(release_mod, "AnnyBody", lambda: anny_body)  # reuse the session's body model
    out = tmp_path / "rel"
    code = cli.main(["synth", "--renderer", "anny", "--layout", "release", "--out", str(out), "--subjects", "S11",
                     "--actions", "Posing", "--subactions", "1", "--frames", "2", "--cameras", "54138969",
                     "--image-size", "64", "--msaa", "0", "--no-progress"])
    text, err = capsys.readouterr()
    assert code == 0, err
    assert "wrote 1 videos (2 frames)" in text and "not Human3.6M" in text
    stem = file_action_name("S11", "Posing", 0)
    assert (out / f"S11/Videos/{stem}.54138969.mp4").is_file()
    assert read_poses(out / f"S11/MyPoseFeatures/D3_Positions/{stem}.cdf").shape == (2, 32, 3)


def test_cli_errors_are_one_line(tmp_path, capsys):
    code = cli.main(["synth", "--renderer", "anny", "--layout", "release", "--out", str(tmp_path / "r"),
                     "--actions", "Dancing", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("movnect: error: unknown action(s) ['Dancing']") and err.count("\n") == 1
    code = cli.main(["synth", "--layout", "h5", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2 and "stick renderer writes the release layout only" in err and err.count("\n") == 1
    code = cli.main(["synth", "--renderer", "anny", "--layout", "release", "--out", str(tmp_path / "r"), "--coco", "3"])
    err = capsys.readouterr().err
    assert code == 2 and "--coco is written by the stick renderer only" in err
    assert not (tmp_path / "r").exists() and not (tmp_path / "s").exists()


def test_cli_one_line_error_when_the_body_model_is_missing(monkeypatch, tmp_path, capsys):
    real = builtins.__import__

    def fake(mod, *args, **kwargs):
        if mod == "anny" or mod.startswith("anny."):
            raise ImportError("No module named 'anny'")
        return real(mod, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    out = tmp_path / "r"
    assert cli.main(["synth", "--renderer", "anny", "--layout", "release", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("movnect: error: the Anny renderer needs") and "anny==0.6.2" in err[0]
    assert not out.exists()
