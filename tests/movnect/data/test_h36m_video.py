"""FrameReader: the frames it yields with seeking equal sequential decoding, and lengths."""
import cv2
import numpy as np
import pytest

from movnect.data.h36m_video import FrameReader


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """60 distinct 64 x 48 frames (mp4v, 50 fps, OpenCV's default key-frame interval)."""
    path = tmp_path_factory.mktemp("video") / "v.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 50.0, (64, 48))
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    for k in range(60):
        img = base.copy()
        cv2.putText(img, str(k), (4, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        writer.write(img)
    writer.release()
    return path


def _read(path, wanted, n_pose, seek, grab_s=None, seek_s=None):
    cap = cv2.VideoCapture(str(path))
    reader = FrameReader(cap, n_pose, seek=seek)
    if grab_s is not None:  # pretend measurements so that the reader seeks (or not) deterministically
        reader.grab_s, reader.seek_s = grab_s, seek_s
    got = dict(reader.frames(wanted))
    length = reader.video_length()
    cap.release()
    return got, length, reader


@pytest.mark.parametrize("step", [1, 5, 9, 16, 25])
def test_seeking_gives_exactly_the_frames_of_sequential_decoding(video, step):
    wanted = list(range(0, 60, step))
    plain, n_plain, r0 = _read(video, wanted, 60, seek=False)
    sought, n_sought, r1 = _read(video, wanted, 60, seek=True, grab_s=1.0, seek_s=1e-6)
    assert sorted(plain) == sorted(sought) == wanted and n_plain == n_sought == 60
    assert r0.seeks == 0 and (r1.seeks > 0) == (step >= FrameReader.MIN_SEEK_GAP + 1)
    for i in wanted:
        np.testing.assert_array_equal(plain[i], sought[i])


def test_measured_costs_choose_between_grab_and_seek(video):
    _, _, r = _read(video, list(range(0, 60, 16)), 60, seek=True, grab_s=1e-9, seek_s=1.0)
    assert r.seeks == 0  # grabbing 15 frames is cheaper than one seek here
    _, _, r = _read(video, list(range(0, 60, 5)), 60, seek=True)
    assert r.seeks == 0  # gaps below MIN_SEEK_GAP are always grabbed


def test_video_shorter_than_the_mocap_gives_its_exact_length_also_when_a_seek_runs_past_it(video):
    for seek in (False, True):
        got, n, _ = _read(video, list(range(0, 90, 11)), 90, seek=seek, grab_s=1.0, seek_s=1e-6)
        assert sorted(got) == [0, 11, 22, 33, 44, 55] and n == 60
    got, n, _ = _read(video, [0, 10], 20, seek=True)
    assert n == 60  # longer than the mocap: the container's count
