"""BlazePose as the project uses it: person finding, frame tracking, and a PoseEstimator.

* `PersonFinder`: the detector on the whole frame and, for wide or tall frames, on square
  tiles of the short side (people far from the camera are a few pixels tall in the 224 x 224
  letterbox of a 16:9 frame and are missed there); detections merged by IoU. Each detection
  gives a square person box in the project's crop framing (`person_box`).
* `BlazePoseTracker`: MediaPipe's per-frame loop: detect when nobody is followed, else take
  the region the previous landmarks predict; drop the person when the pose score falls.
* `BlazePoseEstimator`: the landmark model on the project's square person crops (one axis-
  aligned region per crop), returning our 17 joints (`movnect.skeleton.from_blazepose`) as a
  `movnect.estimator.Prediction`, so BlazePose runs wherever our models run (predict, eval,
  demo, benchmarks, labelling).

Variants: "lite", "full", "heavy" (model files from `movnect.assets`).
"""
from __future__ import annotations

import math
import numpy as np

from movnect import assets, skeleton
from movnect.blazepose.detector import Detection, PoseDetector, Roi, _iou
from movnect.blazepose.landmarker import INPUT, Landmarks, PoseLandmarker
from movnect.camera import CropBox
from movnect.codec import Codec, CodecConfig
from movnect.estimator import Prediction, check_crops  # estimator imports this module lazily

VARIANTS = ("lite", "full", "heavy")


def _model_file(variant: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"unknown BlazePose variant {variant!r}; choose from {', '.join(VARIANTS)}")
    return str(assets.asset_path(f"pose_landmark_{variant}"))


# The detector's region (MediaPipe's: side 2.5 x the body-circle radius) is larger than the
# training crops' framing (side 1.4 x the true joints' larger extent, CROP_MARGIN 0.2): on
# rendered people with exact joints (`python bench/detector_framing.py --data
# data/anny/anny_s24_m05_24k.h5`, 1,000 S8 crops, 699 measured) the median side ratio is 1.057
# (quartiles 0.98 / 1.16; 1.043 on the test subjects S9 S11), so the boxes are scaled by 1 / 1.057.
DETECTOR_BOX_SCALE = 0.946


def raw_person_box(det: Detection) -> CropBox:
    """Square box in image pixels, axis-aligned, around a detection: centred on the mid-hip,
    side MediaPipe's region (2.5 x the body-circle radius, unrotated)."""
    return CropBox.around((float(det.keypoints[0, 0]), float(det.keypoints[0, 1])), det.roi().side)


def person_box(det: Detection) -> CropBox:
    """`raw_person_box` scaled by DETECTOR_BOX_SCALE: the detection in the training crops'
    framing (side 1.4 x the joints' larger extent; median over rendered people)."""
    raw = raw_person_box(det)
    return CropBox.around(raw.center, raw.side * DETECTOR_BOX_SCALE)


def tiles(height: int, width: int, overlap: float = 1.0 / 3.0) -> list[tuple[int, int, int]]:
    """Square tiles (x0, y0, side) of the short side covering a frame whose aspect exceeds 1.5,
    neighbours overlapping by at least `overlap` of a tile; [] for near-square frames."""
    short, long_ = min(height, width), max(height, width)
    if long_ < 1.5 * short:
        return []
    n = int(math.ceil((long_ - short) / (short * (1.0 - overlap)))) + 1
    starts = np.linspace(0, long_ - short, n).round().astype(int)
    return [(int(s), 0, short) if width >= height else (0, int(s), short) for s in starts]


class PersonFinder:
    """`find(frame) -> [Detection]` in image pixels, most confident first."""

    def __init__(self, threads: int = 2, min_score: float = 0.5, iou: float = 0.3) -> None:
        self.detector = PoseDetector(str(assets.asset_path("pose_detection")), threads, min_score)
        self.iou = iou

    def find(self, frame: np.ndarray) -> list[Detection]:
        """frame: (H, W, 3) uint8 RGB."""
        h, w = frame.shape[:2]
        found = list(self.detector.detect(frame))
        for x0, y0, side in tiles(h, w):
            tile = np.ascontiguousarray(frame[y0:y0 + side, x0:x0 + side])
            off = np.array([x0, y0], dtype=np.float64)
            for d in self.detector.detect(tile):
                found.append(Detection(d.box + np.tile(off, 2), d.keypoints + off, d.score))
        found.sort(key=lambda d: -d.score)
        kept: list[Detection] = []
        for d in found:  # the same face found in the full frame and a tile: keep the best
            if not kept or _iou(d.box, np.stack([k.box for k in kept])).max() <= self.iou:
                kept.append(d)
        return kept

    def boxes(self, frame: np.ndarray) -> list[CropBox]:
        """Person boxes (`person_box`) of `find(frame)`: a movnect.live.PersonDetector."""
        return [person_box(d) for d in self.find(frame)]


class BlazePoseTracker:
    """MediaPipe's tracking loop on a video: `__call__(frame) -> Landmarks | None`.

    `select` chooses among detections when (re)acquiring: "largest" (default; the person
    nearest the camera), "best" (highest score), or a callable taking the detections."""

    def __init__(self, variant: str = "full", threads: int = 2, min_presence: float = 0.5,
                 select: str = "largest") -> None:
        self.finder = PersonFinder(threads)
        self.landmarker = PoseLandmarker(_model_file(variant), threads)
        self.min_presence = min_presence
        self.select = select
        self.reset()

    def reset(self) -> None:
        self._roi: Roi | None = None

    def _choose(self, dets: list[Detection]) -> Detection:
        if self.select == "best":
            return dets[0]
        if self.select == "largest":
            return max(dets, key=lambda d: d.roi().side)
        return self.select(dets)  # type: ignore[operator]

    def __call__(self, frame: np.ndarray) -> Landmarks | None:
        if self._roi is None:
            dets = self.finder.find(frame)
            if not dets:
                return None
            self._roi = self._choose(dets).roi()
        lm = self.landmarker.run(frame, [self._roi])[0]
        if lm.score < self.min_presence:
            self._roi = None
            return None
        self._roi = lm.next_roi()
        return lm


def landmarks_to_joints(lm: Landmarks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(joints2d (17, 2) image px, confidence (17,), joints3d (17, 3) root-relative mm, image
    axes) of one person's landmarks; confidence = visibility x pose score."""
    j2, conf = skeleton.from_blazepose(lm.image, lm.visibility)
    j3, _ = skeleton.from_blazepose(lm.world * 1000.0)
    return j2, conf * lm.score, skeleton.root_relative(j3)


class BlazePoseEstimator:
    """A PoseEstimator (movnect.estimator) running a BlazePose landmark model on square crops
    of any size S (resized to 256 internally): returns 17 joints in crop pixels, confidence
    (visibility x pose score) and root-relative millimetres in the crop's axes."""

    def __init__(self, variant: str = "full", input_size: int = 256, threads: int = 2) -> None:
        self.landmarker = PoseLandmarker(_model_file(variant), threads)
        self.codec = Codec(CodecConfig(input_size=input_size))
        self.name = f"blazepose-{variant}"
        self.variant = variant

    def __call__(self, crops: np.ndarray) -> Prediction:
        size = self.codec.config.input_size
        crops = check_crops(crops, size)
        if size != INPUT:
            import cv2

            crops = np.stack([cv2.resize(c, (INPUT, INPUT), interpolation=cv2.INTER_AREA if size > INPUT
                                         else cv2.INTER_LINEAR) for c in crops])
        raw = self.landmarker.run_crops(crops)
        lm = raw["landmarks"]
        vis = 1.0 / (1.0 + np.exp(-np.clip(lm[..., 3].astype(np.float64), -60, 60)))
        # crop pixels of the 256 input (continuous) -> pixel centres of the S crop
        uv = (lm[..., :2].astype(np.float64)) * (size / INPUT) - 0.5
        j2, conf = skeleton.from_blazepose(uv, vis)
        j3, _ = skeleton.from_blazepose(raw["world"].astype(np.float64) * 1000.0)
        conf = conf * raw["score"].astype(np.float64)[:, None]
        return Prediction(j2.astype(np.float32), conf.astype(np.float32),
                          skeleton.root_relative(j3).astype(np.float32))
