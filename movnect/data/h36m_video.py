"""Reading the kept frames of a Human3.6M video: grab or seek, whichever is measured faster.

Used by prepare-h36m (movnect.data.h36m) and by evaluation crops cut from the videos
(movnect.eval_crops).
"""
from __future__ import annotations

import time

import cv2


class FrameReader:
    """Decodes the wanted frames of one opened video (cv2.VideoCapture), never past the mocap.

    frames(wanted) yields (index, BGR image) for the wanted indices (increasing) that the video
    holds; video_length() then gives the video's frame count: exact when the video ended before
    the mocap, else the container's count (checked by decoding when it is implausible).

    Skipping frames: `grab()` each frame in between (decoding without the colour conversion), or
    seek (`CAP_PROP_POS_FRAMES`: FFmpeg jumps to the previous key frame and decodes from there).
    Which is cheaper depends on the codec and its key-frame interval, so with `seek` on the
    reader measures both as it goes: gaps of at least MIN_SEEK_GAP frames are sought once, then
    whenever gap x (seconds per grab) exceeds the measured seconds per seek. At frame step 5 it
    never seeks; at step 64 on the synthetic release's mp4v videos seeking is ~3x faster
    (docs/data.md). Seeking is checked frame-exact against sequential decoding in the tests.
    """

    MIN_SEEK_GAP = 8

    def __init__(self, cap, n_pose: int, seek: bool = True) -> None:
        self.cap, self.n_pose, self.seek = cap, n_pose, seek
        self.meta = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)  # the container's frame count
        self.pos = 0               # index of the next frame grab() would decode
        self.ended = False         # the video ran out before the mocap
        self.grab_s: float | None = None   # measured seconds per grab (moving average)
        self.seek_s: float | None = None   # measured seconds per seek + grab
        self.seeks = 0

    def _grab_to(self, i: int) -> bool:
        """Grab frames pos..i-1 (dropped); False when the video ends first."""
        n, t0 = i - self.pos, time.perf_counter()
        while self.pos < i:
            if not self.cap.grab():
                self.ended = True
                return False
            self.pos += 1
        if n >= 4:
            per = (time.perf_counter() - t0) / n
            self.grab_s = per if self.grab_s is None else 0.7 * self.grab_s + 0.3 * per
        return True

    def _want_seek(self, gap: int) -> bool:
        if not self.seek or gap < self.MIN_SEEK_GAP or self.grab_s is None:
            return False
        return self.seek_s is None or gap * self.grab_s > self.seek_s

    def _seek_grab(self, i: int) -> bool:
        """Seek to frame i and grab it; on failure (past the end, a container that cannot seek)
        go back and decode sequentially from then on. False when the video ends before i."""
        before, t0 = self.pos, time.perf_counter()
        if self.cap.set(cv2.CAP_PROP_POS_FRAMES, i) and self.cap.grab():
            per = time.perf_counter() - t0 - (self.grab_s or 0.0)  # the grab of frame i is paid either way
            self.seek_s = per if self.seek_s is None else 0.7 * self.seek_s + 0.3 * per
            self.seeks += 1
            self.pos = i + 1
            return True
        self.seek = False
        if not self.cap.set(cv2.CAP_PROP_POS_FRAMES, before):
            self.ended, self.pos = True, min(max(self.meta, before), i)  # rare: length from the container
            return False
        self.pos = before
        if not self._grab_to(i) or not self.cap.grab():
            self.ended = True
            return False
        self.pos = i + 1
        return True

    def frames(self, wanted):
        for i in wanted:
            if i > self.pos and self._want_seek(i - self.pos):
                if not self._seek_grab(i):
                    return
            else:
                if not self._grab_to(i) or not self.cap.grab():
                    self.ended = True
                    return
                self.pos += 1
            ok, image = self.cap.retrieve()
            if not ok:
                self.ended = True
                return
            yield i, image

    def video_length(self) -> int:
        if self.ended:
            return self.pos
        if self.meta >= self.n_pose:
            return self.meta
        while self.pos < self.n_pose:  # the container's count is implausible: decode to the mocap's end
            if not self.cap.grab():
                return self.pos
            self.pos += 1
        return self.n_pose + (1 if self.cap.grab() else 0)
