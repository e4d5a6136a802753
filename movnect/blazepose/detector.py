"""BlazePose person detector (MediaPipe `pose_detection.tflite`), decoded in numpy.

The model sees the whole frame letterboxed to 224 x 224 (RGB scaled to [-1, 1]) and scores
2254 SSD anchors; each anchor regresses a box and 4 keypoints: 0 mid-hip centre, 1 a point
whose distance from the mid-hip is the radius of a circle around the whole body, 2 mid-shoulder
centre, 3 the same for the upper body. Decoding follows MediaPipe's pose detection graph
(facts from its documented calculator options): anchors of 5 layers, strides 8, 16, 32, 32,
32, two anchors per cell per layer, fixed anchor size; offsets divided by 224 and added to the
anchor centre; sigmoid scores (logits clipped to +-100) above `min_score`; weighted
non-maximum suppression at IoU 0.3 (overlapping boxes are averaged, weighted by score).

The landmark model's input region (`Roi`) is derived from a detection as MediaPipe does: a
square centred on the mid-hip, side 2 x 1.25 x the body-circle radius, rotated so that the
mid-hip -> circle-point direction points up in the crop.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from movnect.blazepose.runtime import TFLiteModel

INPUT = 224
STRIDES = (8, 16, 32, 32, 32)
ANCHORS_PER_LAYER = 2
NUM_ANCHORS = 2254
ROI_SCALE = 1.25


@dataclass(frozen=True)
class Roi:
    """A rotated square region in image pixels: centre, side, rotation (radians, clockwise
    in the image, i.e. the crop's up direction is the image's up rotated by `angle`)."""

    cx: float
    cy: float
    side: float
    angle: float = 0.0

    def affine(self, size: int) -> np.ndarray:
        """(2, 3) matrix mapping crop pixels to image pixels (pixel centres at integers in
        both, the convention of movnect.camera and cv2.warpAffine)."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        k = self.side / size
        rot = np.array([[c, -s], [s, c]]) * k
        offset = np.array([self.cx, self.cy]) - rot @ np.full(2, (size - 1) / 2.0)
        return np.hstack([rot, offset[:, None]])

    def crop(self, image: np.ndarray, size: int) -> np.ndarray:
        """The (size, size, 3) crop of an (H, W, 3) image (black outside the image)."""
        import cv2

        m = self.affine(size)
        return cv2.warpAffine(image, m, (size, size), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def to_image(self, uv: np.ndarray, size: int) -> np.ndarray:
        """Crop pixels (..., 2) -> image pixels (..., 2)."""
        m = self.affine(size)
        return np.asarray(uv, dtype=np.float64) @ m[:, :2].T + m[:, 2]


def roi_from_points(center: np.ndarray, scale_point: np.ndarray, scale: float = ROI_SCALE) -> Roi:
    """MediaPipe's alignment-points rect: centred on `center` (2,), side 2 * scale * |scale_point -
    center|, rotated so that center -> scale_point points up in the crop (target angle 90 deg)."""
    dx, dy = float(scale_point[0] - center[0]), float(scale_point[1] - center[1])
    radius = math.hypot(dx, dy)
    angle = math.pi / 2.0 - math.atan2(-dy, dx)
    angle = (angle + math.pi) % (2.0 * math.pi) - math.pi
    return Roi(float(center[0]), float(center[1]), 2.0 * radius * scale, angle)


@dataclass(frozen=True)
class Detection:
    """One detected person, image pixels."""

    box: np.ndarray        # (4,) x0, y0, x1, y1
    keypoints: np.ndarray  # (4, 2) mid-hip, body-circle point, mid-shoulder, upper-body point
    score: float

    def roi(self) -> Roi:
        return roi_from_points(self.keypoints[0], self.keypoints[1])


def ssd_anchors() -> np.ndarray:
    """(2254, 2) anchor centres in [0, 1] (x, y), in the model's output order."""
    out = []
    layer = 0
    while layer < len(STRIDES):
        stride = STRIDES[layer]
        per_cell = 0
        while layer < len(STRIDES) and STRIDES[layer] == stride:  # same-stride layers share cells
            per_cell += ANCHORS_PER_LAYER
            layer += 1
        n = int(math.ceil(INPUT / stride))
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], axis=-1)
        out.append(np.repeat(cells, per_cell, axis=0))
    anchors = np.concatenate(out)
    assert anchors.shape == (NUM_ANCHORS, 2)
    return anchors


def letterbox(image: np.ndarray, size: int = INPUT) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit an (H, W, 3) uint8 image into size x size keeping its aspect (black bars).

    Returns the (size, size, 3) uint8 image and, for continuous coordinates (pixel i spans
    [i, i + 1]), the (2,) scale and (2,) padding with model = image * scale + pad.
    """
    import cv2

    h, w = image.shape[:2]
    s = size / max(h, w)
    nw, nh = min(size, max(1, round(w * s))), min(size, max(1, round(h * s)))
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    px, py = (size - nw) // 2, (size - nh) // 2
    out = np.zeros((size, size, 3), dtype=np.uint8)
    out[py:py + nh, px:px + nw] = small
    return out, np.array([nw / w, nh / h]), np.array([float(px), float(py)])


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-12)


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray,
           min_score: float = 0.5, iou: float = 0.3) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Decode the model's outputs in model-input units ([0, 1] of the 224 x 224 input).

    Args:
        raw_boxes: (2254, 12) regressions; raw_scores: (2254,) logits; anchors: (2254, 2).
    Returns:
        [(box (4,) x0 y0 x1 y1, keypoints (4, 2), score)], best first, after weighted NMS.
    """
    if raw_boxes.shape != (NUM_ANCHORS, 12) or raw_scores.shape != (NUM_ANCHORS,):
        raise ValueError(f"expected (2254, 12) boxes and (2254,) scores, got {raw_boxes.shape}, {raw_scores.shape}")
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.astype(np.float64), -100.0, 100.0)))
    keep = np.flatnonzero(scores >= min_score)
    if keep.size == 0:
        return []
    r = raw_boxes[keep] / INPUT
    a = anchors[keep]
    cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
    boxes = np.stack([cx - r[:, 2] / 2, cy - r[:, 3] / 2, cx + r[:, 2] / 2, cy + r[:, 3] / 2], -1)
    kps = r[:, 4:12].reshape(-1, 4, 2) + a[:, None, :]
    s = scores[keep]
    order = np.argsort(-s)
    boxes, kps, s = boxes[order], kps[order], s[order]
    out = []
    remaining = np.ones(len(s), dtype=bool)
    for i in range(len(s)):
        if not remaining[i]:
            continue
        group = remaining & (_iou(boxes[i], boxes) > iou)
        group[i] = True
        w = s[group] / s[group].sum()
        out.append(((boxes[group] * w[:, None]).sum(0), (kps[group] * w[:, None, None]).sum(0), float(s[i])))
        remaining &= ~group
    return out


class PoseDetector:
    """Finds people in a full RGB frame: `detect(image) -> [Detection]`, best first."""

    def __init__(self, model_path: str, threads: int = 2, min_score: float = 0.5) -> None:
        self.model = TFLiteModel(model_path, threads)
        shape = tuple(self.model.input_shape)
        if shape != (1, INPUT, INPUT, 3):
            raise ValueError(f"{model_path}: not a BlazePose detector (input {shape}, expected (1, 224, 224, 3))")
        self.anchors = ssd_anchors()
        self.min_score = min_score

    def detect(self, image: np.ndarray) -> list[Detection]:
        """image: (H, W, 3) uint8 RGB. Detections in image pixels, best first."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
        boxed, scale, pad = letterbox(image)
        x = (boxed.astype(np.float32) / 127.5 - 1.0)[None]
        outs = self.model.run(x)
        raw_boxes, raw_scores = _split_outputs(outs)
        found = decode(raw_boxes, raw_scores, self.anchors, self.min_score)
        # normalised model coordinates -> continuous image coordinates -> pixel centres
        to_img = lambda p: (np.asarray(p) * INPUT - pad) / scale - 0.5  # noqa: E731
        return [Detection(to_img(b.reshape(2, 2)).ravel(), to_img(k), sc) for b, k, sc in found]


def _split_outputs(outs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    boxes = next(o for o in outs if o.shape[-1] == 12)
    scores = next(o for o in outs if o.shape[-1] == 1)
    return boxes.reshape(NUM_ANCHORS, 12), scores.reshape(NUM_ANCHORS)
