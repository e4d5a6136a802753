"""BlazePose GHUM landmark models (lite / full / heavy) on a region of an image.

The model takes a 256 x 256 RGB crop in [0, 1] of a rotated square region (`Roi`) and returns
39 landmarks (the 33 of `movnect.skeleton.BLAZEPOSE_LANDMARKS` plus 6 auxiliary points; 33
and 34 give the next frame's region) as (x, y, z, visibility logit, presence logit) in crop
pixels, a pose-presence score, and 39 "world" landmarks in metres, hip-centred, in the crop's
axes (x right, y down, z away from the camera). `Landmarks` holds them in image pixels and,
for the world landmarks, rotated back into the image's axes, i.e. the camera's axes up to the
perspective of an off-centre person.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from movnect.blazepose.detector import Roi, roi_from_points
from movnect.blazepose.runtime import TFLiteModel

INPUT = 256
NUM_LANDMARKS = 39
AUX_CENTER, AUX_SCALE = 33, 34


@dataclass(frozen=True)
class Landmarks:
    """One person's landmarks from one region."""

    image: np.ndarray       # (39, 2) image pixels
    visibility: np.ndarray  # (39,) probability that the landmark is visible
    presence: np.ndarray    # (39,) probability that it lies inside the region
    world: np.ndarray       # (39, 3) metres, hip-centred, image axes (x right, y down, z forward)
    score: float            # pose presence probability
    roi: Roi

    def next_roi(self) -> Roi:
        """The region MediaPipe tracks into the next frame (from the auxiliary points)."""
        return roi_from_points(self.image[AUX_CENTER], self.image[AUX_SCALE])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


class PoseLandmarker:
    """`run(image, rois) -> [Landmarks]`: the landmark model on one or more regions of one
    image (a batch of regions runs as one invocation)."""

    def __init__(self, model_path: str, threads: int = 2) -> None:
        self.model = TFLiteModel(model_path, threads)
        if self.model.input_shape[1:] != (INPUT, INPUT, 3):
            raise ValueError(f"{model_path}: not a BlazePose landmark model (input {self.model.input_shape})")

    def run_crops(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        """Raw outputs on (B, 256, 256, 3) uint8 RGB crops: landmarks (B, 39, 5) crop px and
        logits, score (B,) probability, world (B, 39, 3) metres in crop axes."""
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != (INPUT, INPUT, 3):
            raise ValueError(f"expected crops (B, {INPUT}, {INPUT}, 3) RGB, got {crops.shape}")
        outs = self.model.run(crops.astype(np.float32) / 255.0)
        b = crops.shape[0]
        by_size = {o[0].size: o for o in outs}
        lm = by_size[NUM_LANDMARKS * 5].reshape(b, NUM_LANDMARKS, 5)
        score = by_size[1].reshape(b)
        world = by_size[NUM_LANDMARKS * 3].reshape(b, NUM_LANDMARKS, 3)
        return {"landmarks": lm, "score": score, "world": world}

    def run(self, image: np.ndarray, rois: list[Roi]) -> list[Landmarks]:
        if not rois:
            return []
        crops = np.stack([r.crop(image, INPUT) for r in rois])
        raw = self.run_crops(crops)
        out = []
        for i, roi in enumerate(rois):
            lm = raw["landmarks"][i]
            c, s = np.cos(roi.angle), np.sin(roi.angle)
            rot = np.array([[c, -s], [s, c]])
            world = raw["world"][i].astype(np.float64).copy()
            world[:, :2] = world[:, :2] @ rot.T
            out.append(Landmarks(
                image=roi.to_image(lm[:, :2].astype(np.float64) - 0.5, INPUT),
                visibility=_sigmoid(lm[:, 3].astype(np.float64)),
                presence=_sigmoid(lm[:, 4].astype(np.float64)),
                world=world,
                score=float(raw["score"][i]),
                roi=roi,
            ))
        return out
