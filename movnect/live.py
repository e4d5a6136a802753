"""The per-frame pipeline of `movnect demo`: crop -> model -> decode -> filter -> fit.

`LivePipeline.step(frame, t)` runs one frame and returns the frames whose fitted pose is
final (in order). Fitting needs personal bone lengths, so the first `calibration_frames`
tracked frames are buffered while their filtered 3D accumulates; then the skeleton is
personalised (postprocess.kinematics.estimate_bone_lengths), the buffered frames are fitted
and released, and every later frame is released at once. `finish()` releases what is left
(also after an interrupt), so nothing recorded is lost.

A frame is *tracked* when the mean joint confidence reaches `min_confidence`. An untracked
frame (nobody in view, heavy occlusion) does not touch the filters or the fitter: the last
pose is held and marked untracked, so no garbage rotations reach the avatar. After
`lost_reset_frames` untracked frames the crop returns to the full-frame box.

Person search: the model is trained on crops around one person, so a person far from the
camera is hard to find in the full-frame crop. While untracked, each frame also runs the model
on `search_per_frame` windows of a fixed scan (`search_boxes`: the full frame, then square
windows of 3/4 and 1/2 of the short side at half-window strides), round-robin, so a sweep
takes a few frames and costs a bounded amount per frame. The most confident crop wins; if it
reaches `min_confidence` the frame is tracked with that crop's prediction and the box tracker
restarts from its joints.

Person detection (preferred; `movnect demo` uses BlazePose's person detector when its model
file is installed): with a `detector` (frame -> candidate person boxes, most preferred first),
the window scan is not used. The detector finds the person on the first frame and whenever
nobody is followed; while following, it re-checks the box every `verify_every` frames. A check
whose best-overlapping detection differs from the followed box by more than `reseat_tolerance`
(side ratio or centre offset; a box that shrank to the upper body when the model missed the
legs) re-seats the box on the detection. After `verify_misses` consecutive checks where no
detection overlaps the box (a wall or grass the model mistook for a person, or the person
left), the box is dropped. Acquisition prefers
the candidate nearest the last followed box (so the pipeline does not jump to another person),
else the largest, or the `person`-th from the left on the first acquisition.

Camera: with no intrinsics given (webcams), a pinhole with `fov_deg` horizontal field of view
and the principal point at the image centre is assumed (documented in docs/demo.md).
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from movnect.camera import CropBox, Intrinsics, crop_image, crop_to_image
from movnect.estimator import PoseEstimator
from movnect.media import full_frame_box
from postprocess.kinematics import Skeleton, estimate_bone_lengths
from postprocess.one_euro import VNECT_2D, VNECT_3D, OneEuroConfig, OneEuroFilter, vnect_scale_2d, vnect_scale_3d
from postprocess.skeleton_fit import FitConfig, FitResult, SkeletonFitter
from postprocess.tracker import BoxTracker, TrackerConfig

# A typical adult (mm), used only when a sequence never yields a tracked frame: the BVH then
# still gets a well-formed rig. Bones in movnect.skeleton.BONES order (child joints 1..16).
TYPICAL_BONES_MM = (130.0, 450.0, 440.0, 130.0, 450.0, 440.0, 230.0, 250.0, 110.0, 115.0,
                    150.0, 280.0, 250.0, 150.0, 280.0, 250.0)


@dataclass(frozen=True)
class LiveConfig:
    fov_deg: float = 60.0              # horizontal field of view assumed for unknown cameras
    min_confidence: float = 0.3        # mean joint confidence of a tracked frame
    calibration_frames: int = 30       # tracked frames of filtered 3D for the bone lengths
    lost_reset_frames: int = 10        # untracked frames before the box returns to full frame
    search_per_frame: int = 6          # extra search windows evaluated per untracked frame (0: off)
    verify_every: int = 10             # frames between detector checks of a followed box
    verify_misses: int = 3             # consecutive failed checks that drop the box
    reseat_tolerance: float = 0.25     # a check re-seats the box on the detection when they differ more
    person: int | None = None          # with a detector: follow the person-th from the left (0-based)
    filter_2d: OneEuroConfig = VNECT_2D
    filter_3d: OneEuroConfig = VNECT_3D
    fit: FitConfig = field(default_factory=FitConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)

    def __post_init__(self) -> None:
        if not 10.0 <= self.fov_deg <= 170.0:
            raise ValueError(f"fov_deg must be in [10, 170], got {self.fov_deg}")
        if self.calibration_frames < 1 or self.lost_reset_frames < 1:
            raise ValueError("calibration_frames and lost_reset_frames must be >= 1")
        if self.search_per_frame < 0:
            raise ValueError(f"search_per_frame must be >= 0, got {self.search_per_frame}")
        if self.verify_every < 1 or self.verify_misses < 1 or (self.person is not None and self.person < 0):
            raise ValueError(f"need verify_every >= 1, verify_misses >= 1, person >= 0; got "
                             f"{self.verify_every}, {self.verify_misses}, {self.person}")
        if not self.reseat_tolerance > 0.0:
            raise ValueError(f"reseat_tolerance must be > 0, got {self.reseat_tolerance}")


def search_boxes(height: int, width: int, fractions: tuple[float, ...] = (0.75, 0.5)) -> list[CropBox]:
    """The person-search scan of a (height, width) frame: the full-frame box, then for each
    fraction f square windows of side f * min(height, width) tiling the frame at strides of at
    most half a window (first and last windows touch the frame edges)."""
    out = [full_frame_box(height, width)]
    for f in fractions:
        if not 0.0 < f <= 1.0:
            raise ValueError(f"search window fractions must be in (0, 1], got {f}")
        side = f * min(height, width)
        nx = int(math.ceil((width - side) / (side / 2.0))) + 1
        ny = int(math.ceil((height - side) / (side / 2.0))) + 1
        for y in np.linspace(0.0, height - side, ny):
            for x in np.linspace(0.0, width - side, nx):
                out.append(CropBox(float(x) - 0.5, float(y) - 0.5, side))
    return out


def intrinsics_from_fov(height: int, width: int, fov_deg: float) -> Intrinsics:
    """Pinhole intrinsics of a (height, width) image with horizontal field of view fov_deg."""
    f = (width / 2.0) / math.tan(math.radians(fov_deg) / 2.0)
    return Intrinsics((f, f), ((width - 1) / 2.0, (height - 1) / 2.0), width=width, height=height)


@dataclass
class FrameResult:
    """One processed frame; 2D in image pixels, 3D in mm (camera axes)."""

    index: int
    t: float
    box: CropBox
    joints2d: np.ndarray            # (17, 2) raw decoded
    confidence: np.ndarray          # (17,)
    joints3d: np.ndarray            # (17, 3) raw decoded, root-relative
    joints2d_filtered: np.ndarray   # (17, 2)
    joints3d_filtered: np.ndarray   # (17, 3) root-relative
    tracked: bool
    fit: FitResult | None = None    # set when the frame is released
    timings_ms: dict[str, float] = field(default_factory=dict)


# A person detector: (H, W, 3) uint8 RGB frame -> candidate person boxes in the training crops'
# framing, most preferred first (e.g. movnect.blazepose.pose.PersonFinder.boxes).
PersonDetector = Callable[[np.ndarray], list[CropBox]]


def box_disagrees(detected: CropBox, followed: CropBox, tolerance: float) -> bool:
    """True when the followed box's side differs from the detection's by more than a factor
    (1 + tolerance) or its centre is off by more than tolerance x the detection's side."""
    ratio = followed.side / detected.side
    off = float(np.hypot(followed.center[0] - detected.center[0], followed.center[1] - detected.center[1]))
    return not (1.0 / (1.0 + tolerance) <= ratio <= 1.0 + tolerance) or off > tolerance * detected.side


def box_overlap(a: CropBox, b: CropBox) -> float:
    """Intersection over the smaller box's area (1 when one square lies inside the other)."""
    ix = max(0.0, min(a.x0 + a.side, b.x0 + b.side) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y0 + a.side, b.y0 + b.side) - max(a.y0, b.y0))
    return ix * iy / min(a.side, b.side) ** 2


class LivePipeline:
    """See the module docstring. `estimator` is any movnect.estimator.PoseEstimator."""

    def __init__(self, estimator: PoseEstimator, frame_shape: tuple[int, int],
                 intrinsics: Intrinsics | None = None, config: LiveConfig = LiveConfig(),
                 detector: PersonDetector | None = None) -> None:
        h, w = int(frame_shape[0]), int(frame_shape[1])
        if h < 8 or w < 8:
            raise ValueError(f"frame too small: {frame_shape}")
        self.estimator, self.config = estimator, config
        self.frame_shape = (h, w)
        self.intrinsics = intrinsics or intrinsics_from_fov(h, w, config.fov_deg)
        self.tracker = BoxTracker(full_frame_box(h, w), config.tracker)
        self._search = search_boxes(h, w)
        self._search_next = 0
        self.filter_2d, self.filter_3d = OneEuroFilter(config.filter_2d), OneEuroFilter(config.filter_3d)
        self.skeleton: Skeleton | None = None
        self.fitter: SkeletonFitter | None = None
        self._pending: list[FrameResult] = []
        self._last: FrameResult | None = None
        self._last_fit: FitResult | None = None
        self._lost = 0
        self._count = 0
        self.detector = detector
        self._following = False      # with a detector: a person box is being followed
        self._misses = 0
        self._last_box: CropBox | None = None
        self._acquired_once = False

    @property
    def calibrated(self) -> bool:
        return self.fitter is not None

    def step(self, frame_rgb: np.ndarray, t: float) -> tuple[FrameResult, list[FrameResult]]:
        """Process one (H, W, 3) uint8 RGB frame at time t (s, increasing).

        Returns (this frame's result for display, the frames released for output).
        """
        if frame_rgb.ndim != 3 or frame_rgb.shape[:2] != self.frame_shape or frame_rgb.shape[2] != 3:
            raise ValueError(f"expected a frame of shape {self.frame_shape + (3,)}, got {frame_rgb.shape}")
        timings: dict[str, float] = {}
        size = self.estimator.codec.config.input_size
        if self.detector is not None:
            td = time.perf_counter()
            present = self._detect_step(frame_rgb)
            timings["detect"] = (time.perf_counter() - td) * 1e3
            if not present:
                return self._untracked(frame_rgb, t, timings)
        box = self.tracker.box
        t0 = time.perf_counter()
        crop = crop_image(frame_rgb, box, size)
        t1 = time.perf_counter()
        pred = self.estimator(crop[None])
        t2 = time.perf_counter()
        timings["crop"], timings["model+decode"] = (t1 - t0) * 1e3, (t2 - t1) * 1e3
        j2, conf, j3 = self._decode(pred, box, size)
        tracked = self._is_tracked(j2, conf, j3)
        restart = False
        if self.detector is not None:
            self._following = tracked
        elif not tracked and self.config.search_per_frame > 0:
            found = self._search_step(frame_rgb, size)
            if found is not None:
                box, j2, conf, j3 = found
                tracked = restart = True
            timings["search"] = (time.perf_counter() - t2) * 1e3

        t3 = time.perf_counter()
        if tracked:
            self._lost = 0
            f2 = self.filter_2d(j2, t, scale=vnect_scale_2d(box.side))
            knee_neck = self.skeleton.knee_neck_length if self.skeleton else 920.0
            f3 = self.filter_3d(j3, t, scale=vnect_scale_3d(knee_neck))
            if restart:
                self.tracker.reset()
            self.tracker.update(j2, conf, t)
            self._last_box = self.tracker.box
        else:
            self._lost += 1
            if self._lost >= self.config.lost_reset_frames:
                self.tracker.reset()
            f2 = self._last.joints2d_filtered if self._last is not None else j2
            f3 = self._last.joints3d_filtered if self._last is not None else j3
        timings["filter"] = (time.perf_counter() - t3) * 1e3

        result = FrameResult(self._count, float(t), box, j2, conf, j3, np.array(f2), np.array(f3),
                             tracked, timings_ms=timings)
        self._count += 1
        if tracked:
            self._last = result
        t4 = time.perf_counter()
        released = self._release(result)
        timings["fit"] = (time.perf_counter() - t4) * 1e3
        return result, released

    def finish(self) -> list[FrameResult]:
        """Release every buffered frame (personalising from what was seen so far)."""
        if self.fitter is None and self._pending:
            self._calibrate()
            return self._fit_all(self._pending)
        return []

    # ---- internals -----------------------------------------------------------------------
    def _detect_step(self, frame_rgb: np.ndarray) -> bool:
        """Acquire or verify the followed box with the detector; False when nobody is followed."""
        assert self.detector is not None
        if self._following and (self._count % self.config.verify_every) and not self._misses:
            return True
        boxes = self.detector(frame_rgb)
        if self._following:
            box = self.tracker.box
            match = max(boxes, key=lambda b: box_overlap(b, box), default=None)
            if match is not None and box_overlap(match, box) > 0.3:
                self._misses = 0
                if box_disagrees(match, box, self.config.reseat_tolerance):
                    self.tracker = BoxTracker(match, self.config.tracker)  # re-seat on the detection
                return True
            self._misses += 1
            if self._misses < self.config.verify_misses:
                return True
            self._following, self._misses = False, 0   # drop the box; acquire below
        if not boxes:
            return False
        chosen = self._choose(boxes)
        self.tracker = BoxTracker(chosen, self.config.tracker)
        self._following, self._acquired_once = True, True
        return True

    def _choose(self, boxes: list[CropBox]) -> CropBox:
        if self._last_box is not None:  # the person followed before: nearest centre, size-normalised
            lc, ls = np.array(self._last_box.center), self._last_box.side
            return min(boxes, key=lambda b: float(np.linalg.norm(np.array(b.center) - lc)) / ls
                       + abs(np.log(b.side / ls)))
        if self.config.person is not None and not self._acquired_once:
            by_x = sorted(boxes, key=lambda b: b.center[0])
            return by_x[min(self.config.person, len(by_x) - 1)]
        return max(boxes, key=lambda b: b.side)

    def _untracked(self, frame_rgb: np.ndarray, t: float, timings: dict[str, float]
                   ) -> tuple[FrameResult, list[FrameResult]]:
        """A frame with nobody followed: hold the last pose (no model run)."""
        for k in ("crop", "model+decode", "filter"):
            timings.setdefault(k, 0.0)
        n = self.estimator.codec.config.num_joints
        conf = np.zeros(n)
        if self._last is not None:
            j2, j3 = self._last.joints2d, self._last.joints3d
            f2, f3 = self._last.joints2d_filtered, self._last.joints3d_filtered
        else:  # nobody seen yet: joints at the frame centre, zero confidence
            h, w = self.frame_shape
            j2 = np.tile([(w - 1) / 2.0, (h - 1) / 2.0], (n, 1))
            j3 = np.zeros((n, 3))
            f2, f3 = j2, j3
        result = FrameResult(self._count, float(t), self.tracker.box, np.array(j2), conf, np.array(j3),
                             np.array(f2), np.array(f3), False, timings_ms=timings)
        self._count += 1
        t4 = time.perf_counter()
        released = self._release(result)
        timings["fit"] = (time.perf_counter() - t4) * 1e3
        return result, released

    @staticmethod
    def _decode(pred, box: CropBox, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(joints2d in image px (17, 2), confidence (17,), joints3d mm (17, 3)) of a batch-1 prediction."""
        j2 = crop_to_image(pred.joints2d[0].astype(np.float64), box, size)
        return j2, pred.confidence[0].astype(np.float64), pred.joints3d[0].astype(np.float64)

    def _is_tracked(self, j2: np.ndarray, conf: np.ndarray, j3: np.ndarray) -> bool:
        return bool(np.isfinite(j2).all() and np.isfinite(j3).all()
                    and float(np.mean(conf)) >= self.config.min_confidence)

    def _search_step(self, frame_rgb: np.ndarray, size: int):
        """Run the next `search_per_frame` windows of the scan; the most confident tracked one
        as (box, joints2d, confidence, joints3d), or None."""
        best, best_conf = None, -1.0
        for _ in range(min(self.config.search_per_frame, len(self._search))):
            box = self._search[self._search_next]
            self._search_next = (self._search_next + 1) % len(self._search)
            pred = self.estimator(crop_image(frame_rgb, box, size)[None])
            j2, conf, j3 = self._decode(pred, box, size)
            if self._is_tracked(j2, conf, j3) and float(np.mean(conf)) > best_conf:
                best, best_conf = (box, j2, conf, j3), float(np.mean(conf))
        return best

    def _release(self, result: FrameResult) -> list[FrameResult]:
        if self.fitter is not None:
            return self._fit_all([result])
        self._pending.append(result)
        if sum(r.tracked for r in self._pending) >= self.config.calibration_frames:
            self._calibrate()
            return self._fit_all(self._pending)
        return []

    def _calibrate(self) -> None:
        tracked = [r for r in self._pending if r.tracked]
        if tracked:
            joints = np.stack([r.joints3d_filtered for r in tracked])
            conf = np.stack([r.confidence for r in tracked])
            try:
                self.skeleton = estimate_bone_lengths(joints, conf)
            except ValueError:
                self.skeleton = Skeleton(TYPICAL_BONES_MM)
        else:
            self.skeleton = Skeleton(TYPICAL_BONES_MM)
        self.fitter = SkeletonFitter(self.skeleton, self.intrinsics, self.config.fit)

    def _fit_all(self, results: list[FrameResult]) -> list[FrameResult]:
        assert self.fitter is not None
        out = []
        for r in results:
            if r.tracked:
                fit = self.fitter.fit(r.joints2d_filtered, r.joints3d_filtered, r.confidence, r.t)
                if fit is not None:
                    self._last_fit = fit
            else:
                fit = None
            if fit is None or not r.tracked:
                fit = self._held(r.t)
            r.fit = fit
            out.append(r)
        self._pending = []
        return out

    def _held(self, t: float) -> FitResult:
        """The last fitted pose repeated and marked held (or the rest pose at a default place)."""
        if self._last_fit is not None:
            return dataclasses.replace(self._last_fit, held=True, timestamp=t)
        assert self.skeleton is not None
        h, w = self.frame_shape
        depth = 3000.0
        rest = self.skeleton.rest_pose + np.array([0.0, 0.0, depth])
        return FitResult(joints=rest, pelvis=np.eye(3), thorax=np.eye(3), held=True, timestamp=t)
