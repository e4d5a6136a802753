"""`movnect label` end to end on real footage (Pose2Sim Demo_MultiPerson, fetched by make venv):
rows in the training schema, confidences, filters, resume, bad input."""
import cv2
import h5py
import numpy as np
import pytest

from movnect import assets
from movnect.camera import Intrinsics, inside_image, project
from movnect.cli import main
from movnect.codec import Codec, CodecConfig
from movnect.data.dataset import H36MDataset
from movnect.data.pseudo_label import LabelOptions, fov_intrinsics, label_inputs, place_in_camera


def _clip(path, frames=8, mirror_odd=False, black=False):
    cap = cv2.VideoCapture(str(assets.asset_path("multiperson_cam01")))
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (272, 480))
    for i in range(frames):
        ok, bgr = cap.read()
        assert ok
        small = cv2.resize(bgr, (272, 480), interpolation=cv2.INTER_AREA)
        if black:
            small[:] = 0
        elif mirror_odd and i % 2:
            small = small[:, ::-1].copy()
        out.write(small)
    cap.release()
    out.release()
    return path


def test_place_in_camera_recovers_the_translation():
    rng = np.random.default_rng(0)
    rel = rng.uniform(-500, 500, (17, 3))
    rel -= rel[0]
    t = np.array([200.0, -150.0, 4000.0])
    k = fov_intrinsics(480, 640, 60.0)
    uv = project(rel + t, k)
    assert np.allclose(place_in_camera(rel, uv, np.ones(17), k), t, atol=1e-6)


def test_options_are_checked():
    with pytest.raises(ValueError, match="--teacher"):
        LabelOptions(teacher="vnect")
    with pytest.raises(ValueError, match="frame_step"):
        LabelOptions(frame_step=0)


def test_label_a_clip_end_to_end(tmp_path):
    clip = _clip(tmp_path / "lab.mp4")
    out = tmp_path / "lab.h5"
    # the lab cameras' field of view: f = 1681 px on 1088-px-wide frames -> 36 degrees
    s = label_inputs([clip], out, LabelOptions(teacher="blazepose-lite", fov_deg=36.0))
    assert s.rows >= 6 and s.results[0].frames == 8
    with h5py.File(out, "r") as f:
        assert f.attrs["complete"] and f.attrs["source"] == "pseudo-label:blazepose-lite"
        n = int(f.attrs["rows"])
        conf = f["confidence"][...]
        assert conf.shape == (n, 17) and 0 <= conf.min() and conf.max() <= 1 and conf.mean() > 0.6
        k = f["intrinsics"][0]
        uv = project(f["joints3d"][...].astype(np.float64), Intrinsics((k[0], k[1]), (k[2], k[3])))
        # the teacher's 3D, placed by least squares, reprojects near its 2D (within 5 % of the
        # person's height: monocular 3D and 2D of one model never agree exactly)
        height = np.ptp(f["joints2d"][:, :, 1], axis=1)[:, None]
        assert np.median(np.linalg.norm(uv - f["joints2d"][...], axis=-1) / height) < 0.05
        assert (f["joints3d"][:, :, 2] > 0).all()
        # in_frame: the teacher's 2D inside the frame, the Anny renderer's definition
        size = f["image_size"][...]
        want = inside_image(f["joints2d"][...], size[:, None, 0], size[:, None, 1])
        assert f["in_frame"].dtype == np.uint8 and np.array_equal(f["in_frame"][...].astype(bool), want)
    ds = H36MDataset(out, Codec(CodecConfig(input_size=64)))
    item = ds[0]
    assert item["heatmaps"].shape == (17, 8, 8) and item["mask2d"].sum() >= 12
    with pytest.raises(FileExistsError, match="--overwrite"):
        label_inputs([clip], out)


def test_mirrored_frames_are_dropped_as_flips(tmp_path):
    clip = _clip(tmp_path / "flip.mp4", frames=8, mirror_odd=True)
    s = label_inputs([clip], tmp_path / "flip.h5", LabelOptions(teacher="blazepose-lite"))
    d = s.dropped()
    assert d["flip"] + d["jump"] >= 3


def test_resume_and_bad_inputs(tmp_path):
    good = _clip(tmp_path / "good.mp4", frames=4)
    black = _clip(tmp_path / "black.mp4", frames=4, black=True)
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    out = tmp_path / "mix.h5"

    def stop_after_first(result, done, total):
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        label_inputs([good, black, junk], out, LabelOptions(teacher="blazepose-lite"), stop_after_first)
    assert not out.exists() and len(list((tmp_path / "mix.h5.parts").glob("*.h5"))) == 1
    s = label_inputs([good, black, junk], out, LabelOptions(teacher="blazepose-lite"))
    status = {r.name: r for r in s.results}
    assert status["good.mp4"].status == "reused"
    assert status["black.mp4"].status == "skipped" and "no usable person" in status["black.mp4"].message
    assert status["junk.mp4"].status == "skipped" and "unreadable video" in status["junk.mp4"].message
    with pytest.raises(ValueError, match="no input gave a usable person"):
        label_inputs([black], tmp_path / "none.h5", LabelOptions(teacher="blazepose-lite"))


def test_cli_one_line_errors(tmp_path, capsys):
    assert main(["label", "--input", str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "o.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "input not found" in err[0]
