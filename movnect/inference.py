"""Run a pose model on image crops, whatever form the model comes in.

`load_estimator(spec)` returns a `PoseEstimator`: called with a batch of raw RGB crops it
returns decoded joints as numpy arrays. The spec is a checkpoint path (.pt/.ckpt), and, once
the export package provides runtimes, an exported .onnx or .tflite file, the name "default"
(the embedded model), or an external real-image model: "blazepose-lite", "blazepose-full",
"blazepose-heavy" (MediaPipe BlazePose GHUM on the same crops, movnect.blazepose).

Frame helpers read images and videos with one-line errors and make the initial person box.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np
import torch

from movnect.camera import CropBox, crop_image, crop_to_image
from movnect.codec import Codec


@dataclass
class Prediction:
    """Decoded joints for a batch of crops (numpy, float32)."""

    joints2d: np.ndarray    # (B, J, 2) crop pixels
    confidence: np.ndarray  # (B, J)
    joints3d: np.ndarray    # (B, J, 3) root-relative mm, camera axes


class PoseEstimator(Protocol):
    codec: Codec
    name: str

    def __call__(self, crops: np.ndarray) -> Prediction:
        """crops: (B, S, S, 3) uint8 RGB, S = codec.config.input_size."""
        ...


def check_crops(crops: np.ndarray, size: int) -> np.ndarray:
    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[1:] != (size, size, 3):
        raise ValueError(f"expected crops (B, {size}, {size}, 3) RGB, got {crops.shape}")
    return crops


class TorchEstimator:
    """A PyTorch model + its codec; runs on CPU (or the model's device) without gradients."""

    def __init__(self, model: torch.nn.Module, codec: Codec, name: str = "torch") -> None:
        self.model = model.eval()
        self.codec = codec
        self.name = name

    @torch.no_grad()
    def __call__(self, crops: np.ndarray) -> Prediction:
        crops = check_crops(crops, self.codec.config.input_size)
        device = next(self.model.parameters()).device
        x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).to(device)
        # Subnormal floats (e.g. from barely-trained weights) slow CPU convolutions ~40x;
        # flush them to zero during the forward pass only (the flag is process-wide).
        torch.set_flush_denormal(True)
        try:
            out = self.model(self.codec.normalize(x))
        finally:
            torch.set_flush_denormal(False)
        dec = self.codec.decode(out.maps.float().cpu())
        return Prediction(dec.joints2d.numpy(), dec.confidence.numpy(), dec.joints3d.numpy())


DEFAULT_MODEL = "default"
BLAZEPOSE_PREFIX = "blazepose-"
DEFAULT_MODEL_FILE = Path(__file__).parent / "resources" / "default_student.pt"


def resolve_model_spec(spec: str | Path) -> Path:
    """The file a model name stands for: "default" -> the embedded default checkpoint
    (DEFAULT_MODEL_FILE), anything else -> that path. Shared by predict, demo and export."""
    if str(spec) == DEFAULT_MODEL:
        if not DEFAULT_MODEL_FILE.is_file():
            raise FileNotFoundError(
                f"no default model is embedded in this installation (expected {DEFAULT_MODEL_FILE.name} "
                "in movnect/resources); pass a checkpoint path instead"
            )
        return DEFAULT_MODEL_FILE
    return Path(spec)


def load_estimator(spec: str | Path) -> PoseEstimator:
    """A PoseEstimator from a checkpoint path (see module docstring for other specs)."""
    from movnect.checkpoint import load_model

    if str(spec).startswith(BLAZEPOSE_PREFIX):
        from movnect.blazepose.pose import BlazePoseEstimator

        return BlazePoseEstimator(str(spec)[len(BLAZEPOSE_PREFIX):])
    path = resolve_model_spec(spec)
    suffix = path.suffix.lower()
    if suffix in (".onnx", ".tflite"):
        from mobile_export.runtime import load_exported  # provided by the export package

        return load_exported(path)
    model, _cfg, codec, _ = load_model(path)
    return TorchEstimator(model, codec, name=path.name)


# ---------------------------------------------------------------------------------------------
# Frames

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def read_image_rgb(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB image, or ValueError naming the file."""
    import cv2

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"input not found: {p}")
    bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"unreadable image: {p}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def iter_video_rgb(path: str | Path) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 RGB frames; ValueError if the file yields no frame at all."""
    import cv2

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
    """Frames of an image (one) or a video file, RGB uint8."""
    if Path(path).suffix.lower() in IMAGE_SUFFIXES:
        yield read_image_rgb(path)
    else:
        yield from iter_video_rgb(path)


def full_frame_box(height: int, width: int) -> CropBox:
    """The initial person box: the square centred on the frame that holds all of it.

    Works for one person framed in the image (the usual webcam and phone set-up); later
    frames follow the person with postprocess.tracker.
    """
    side = float(max(height, width))
    return CropBox.around(((width - 1) / 2.0, (height - 1) / 2.0), side)


def predict_frame(estimator: PoseEstimator, frame: np.ndarray, box: CropBox) -> dict:
    """Run one frame in one box; joints2d returned in image pixels."""
    size = estimator.codec.config.input_size
    crop = crop_image(frame, box, size)
    pred = estimator(crop[None])
    return {
        "box": box.as_array().tolist(),
        "joints2d": crop_to_image(pred.joints2d[0].astype(np.float64), box, size),
        "joints3d": pred.joints3d[0].astype(np.float64),
        "confidence": pred.confidence[0].astype(np.float64),
    }
