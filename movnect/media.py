"""Frames in: images, videos and webcams as (H, W, 3) uint8 RGB arrays, with one-line errors.

A conventions-layer module (it knows no model): `movnect.estimator`, `movnect.predict`, the demo
and `mobile_export.frames` read their frames here.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from movnect.camera import CropBox

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def read_image_rgb(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB image; FileNotFoundError / ValueError naming the file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"input not found: {p}")
    bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"unreadable image: {p}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def iter_video_rgb(path: str | Path) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 RGB frames; ValueError if the file yields no frame at all."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"input not found: {p}")
    cap = cv2.VideoCapture(str(p))
    try:
        if not cap.isOpened():
            raise ValueError(f"unreadable video: {p}")
        count = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            count += 1
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if count == 0:
            raise ValueError(f"video has no readable frames: {p}")
    finally:
        cap.release()


def iter_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Frames of an image (one) or a video file, (H, W, 3) uint8 RGB."""
    if Path(path).suffix.lower() in IMAGE_SUFFIXES:
        yield read_image_rgb(path)
    else:
        yield from iter_video_rgb(path)


def full_frame_box(height: int, width: int) -> CropBox:
    """The initial person box (image pixels): the square centred on the frame that holds all of it.

    Works for one person framed in the image (the usual webcam and phone set-up); later
    frames follow the person with postprocess.tracker.
    """
    side = float(max(height, width))
    return CropBox.around(((width - 1) / 2.0, (height - 1) / 2.0), side)


class Source:
    """Frames from a webcam index ('0') or a video file: `read()` -> ((H, W, 3) uint8 RGB, seconds).

    Timestamps are the file's frame clock (index / fps) for videos, the wall clock for webcams."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.is_camera = spec.isdigit()
        if self.is_camera:
            # OpenCV logs its own multi-line ERROR for an absent camera; our one line says it
            level = cv2.utils.logging.getLogLevel()
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
            try:
                self.cap = cv2.VideoCapture(int(spec))
            finally:
                cv2.utils.logging.setLogLevel(level)
            if not self.cap.isOpened():
                raise ValueError(f"no webcam at index {spec} (none connected or no permission); "
                                 "use --source FILE to run on a video")
        else:
            p = Path(spec)
            if not p.is_file():
                raise FileNotFoundError(f"video not found: {p}")
            self.cap = cv2.VideoCapture(str(p))
            if not self.cap.isOpened():
                raise ValueError(f"unreadable video: {p}")
        fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 1.0 <= fps <= 240.0 else 30.0
        self.frames_read = 0
        self._t0 = time.perf_counter()

    def read(self) -> tuple[np.ndarray, float] | None:
        """The next frame and its time in seconds, or None at the end of the stream."""
        ok, bgr = self.cap.read()
        if not ok or bgr is None:
            return None
        t = (time.perf_counter() - self._t0) if self.is_camera else self.frames_read / self.fps
        self.frames_read += 1
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), t

    def close(self) -> None:
        self.cap.release()
