"""Frames in: an image and a video read back as RGB, one-line errors for missing and unreadable
files, and the full-frame box."""
import cv2
import numpy as np
import pytest

from movnect.media import Source, full_frame_box, iter_frames, read_image_rgb


def _frame(i: int) -> np.ndarray:
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[..., 0] = 200  # red in RGB: a BGR/RGB mix-up shows as blue
    rgb[:, i * 8: i * 8 + 8, 1] = 255
    return rgb


def test_image_is_read_as_rgb(tmp_path):
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), cv2.cvtColor(_frame(0), cv2.COLOR_RGB2BGR))
    np.testing.assert_array_equal(read_image_rgb(path), _frame(0))
    assert len(list(iter_frames(path))) == 1


def test_video_frames_in_order_and_source_timestamps(tmp_path):
    path = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(3):
        writer.write(cv2.cvtColor(_frame(i), cv2.COLOR_RGB2BGR))
    writer.release()
    frames = list(iter_frames(path))
    assert len(frames) == 3
    for i, f in enumerate(frames):  # JPEG-compressed: compare coarsely
        assert abs(int(f[..., 0].mean()) - 200) < 12 and f[:, i * 8 + 4, 1].mean() > 200
    src = Source(str(path))
    try:
        times = [src.read()[1] for _ in range(3)]
        assert src.read() is None
    finally:
        src.close()
    assert times == pytest.approx([0.0, 0.1, 0.2])


def test_one_line_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="input not found"):
        next(iter_frames(tmp_path / "none.mp4"))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="unreadable image"):
        read_image_rgb(bad)
    with pytest.raises(FileNotFoundError, match="video not found"):
        Source(str(tmp_path / "none.mp4"))


def test_full_frame_box_is_the_centred_square_holding_the_frame():
    box = full_frame_box(48, 64)
    assert box.side == 64.0
    assert box.center == pytest.approx((31.5, 23.5))  # pixel centres: (W - 1) / 2, (H - 1) / 2
    assert (box.x0, box.y0) == pytest.approx((-0.5, -8.5))
