"""Frame sources for verification and calibration."""
import cv2
import h5py
import numpy as np
import pytest

from mobile_export.frames import load_frames, sample_frames, square_resize, stick_figure_frames, synthetic_frames


def test_square_resize_takes_the_centre():
    img = np.zeros((40, 80, 3), np.uint8)
    img[:, 20:60] = 255  # the centred 40 x 40 square is all white
    out = square_resize(img, 20)
    assert out.shape == (20, 20, 3) and out.min() == 255
    with pytest.raises(ValueError, match=r"\(40, 80\)"):
        square_resize(np.zeros((40, 80)), 20)


def test_folder_h5_and_video_sources(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 48, 64, 3), dtype=np.uint8)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, im in enumerate(imgs):
        cv2.imwrite(str(folder / f"{i}.png"), im[..., ::-1])
    got = load_frames(folder, 32, count=3)
    assert got.shape == (3, 32, 32, 3) and got.dtype == np.uint8
    assert np.abs(got[0].astype(int) - square_resize(imgs[0], 32)).max() <= 1  # RGB order kept

    h5 = tmp_path / "d.h5"
    with h5py.File(h5, "w") as f:
        f["joints"] = np.zeros((10, 17, 2), np.float32)
        f["images"] = rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    got = load_frames(h5, 32, count=4)
    with h5py.File(h5) as f:
        assert np.array_equal(got[0], f["images"][0]) and np.array_equal(got[-1], f["images"][9])

    video = tmp_path / "v.avi"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for im in imgs:
        w.write(np.ascontiguousarray(im[..., ::-1]))
    w.release()
    assert load_frames(video, 32, count=2).shape == (2, 32, 32, 3)


def test_source_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_frames(tmp_path / "missing", 32)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        load_frames(tmp_path / "empty", 32)
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["joints"] = np.zeros((3, 17, 2))
    with pytest.raises(ValueError, match="no uint8"):
        load_frames(tmp_path / "x.h5", 32)


def test_stick_figures_are_deterministic_and_marked():
    a, ja = stick_figure_frames(64, 3, seed=4)
    b, jb = stick_figure_frames(64, 3, seed=4)
    assert np.array_equal(a, b) and np.array_equal(ja, jb)
    assert a.shape == (3, 64, 64, 3) and ja.shape == (3, 17, 2)
    assert (ja >= 0).all() and (ja <= 63).all()
    # every joint is drawn as a black (right / centre) or white (left) disc
    u, v = np.round(ja[0]).astype(int).T
    pix = a[0, v, u].astype(int)
    assert ((pix.max(-1) < 60) | (pix.min(-1) > 195)).all()


def test_default_frames_come_from_the_synthetic_renderer():
    frames, where = sample_frames(None, 64, 3)
    assert frames.shape == (3, 64, 64, 3) and frames.dtype == np.uint8 and "synthetic" in where
    assert frames.std() > 10 and not np.array_equal(frames[0], frames[2])  # a moving person, not a blank
    assert np.array_equal(frames, synthetic_frames(64, 3))  # deterministic
