"""One inference path: a model spec in, a `PoseEstimator` out, whatever form the model takes.

`load_estimator(spec)` returns a callable on a batch of raw RGB crops that returns decoded
joints (`Prediction`, numpy). Every command that runs a model (predict, eval, export, demo,
label, the benchmarks) resolves its spec here, so a name means the same thing everywhere:

  "default"                       the embedded default model, movnect/resources/default_student.pt
                                  (`fast=True`: its .tflite sibling when a TFLite runtime is
                                  registered and usable, the fastest CPU backend; the demo asks
                                  for that, accuracy commands do not)
  "blazepose-lite|full|heavy"     MediaPipe BlazePose GHUM on the same crops (movnect.blazepose)
  a .pt / .ckpt path              a MoVNect / VNect checkpoint, run by `TorchEstimator`
  a path with another suffix      the runtime registered for that suffix (`register_runtime`)

Exported formats (.onnx, .tflite, .mlpackage) are provided by the `mobile_export` package,
which registers its runtimes when `mobile_export.runtime` is imported; this module never
imports it (mobile_export sits above movnect's core in the layers). The app layer
(cli, predict, demo) imports `mobile_export.runtime` where it is installed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import torch

from movnect.camera import CropBox, crop_image, crop_to_image
from movnect.codec import Codec


@dataclass
class Prediction:
    """Decoded joints for a batch of B crops (numpy, float32)."""

    joints2d: np.ndarray    # (B, J, 2) crop pixels
    confidence: np.ndarray  # (B, J) in [0, 1]
    joints3d: np.ndarray    # (B, J, 3) root-relative mm, camera axes


class PoseEstimator(Protocol):
    codec: Codec
    name: str

    def __call__(self, crops: np.ndarray) -> Prediction:
        """crops: (B, S, S, 3) uint8 RGB, S = codec.config.input_size."""
        ...


def check_crops(crops: np.ndarray, size: int) -> np.ndarray:
    """`crops` as an array if it is (B, size, size, 3); ValueError naming the shape otherwise."""
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


# ---------------------------------------------------------------------------------------------
# Runtimes for other model files, registered by the packages that provide them


@dataclass(frozen=True)
class Runtime:
    """How to run model files of one suffix: `load(path) -> PoseEstimator`; `available()` says
    whether its backend (an interpreter library) is installed, without loading a model."""

    name: str
    load: Callable[[Path], PoseEstimator]
    available: Callable[[], bool]


_RUNTIMES: dict[str, Runtime] = {}
TORCH_SUFFIXES = (".pt", ".ckpt")


def register_runtime(suffix: str, runtime: Runtime) -> None:
    """Run files ending in `suffix` (e.g. ".onnx", lower case, with the dot) with `runtime`.
    Registering a suffix again replaces the previous runtime (re-imports are harmless)."""
    if not suffix.startswith(".") or suffix != suffix.lower():
        raise ValueError(f"runtime suffix must be lower case and start with '.', got {suffix!r}")
    if suffix in TORCH_SUFFIXES:
        raise ValueError(f"{suffix} files are PyTorch checkpoints, run by TorchEstimator")
    _RUNTIMES[suffix] = runtime


def registered_runtimes() -> dict[str, Runtime]:
    """suffix -> Runtime, a copy."""
    return dict(_RUNTIMES)


DEFAULT_MODEL = "default"
BLAZEPOSE_PREFIX = "blazepose-"
DEFAULT_MODEL_FILE = Path(__file__).parent / "resources" / "default_student.pt"


def resolve_model_spec(spec: str | Path, fast: bool = False) -> Path:
    """The file a model spec stands for (BlazePose names are not files: see `load_estimator`).

    "default" -> the embedded default checkpoint (DEFAULT_MODEL_FILE); with `fast=True` its
    exported .tflite sibling instead when one is embedded and a usable ".tflite" runtime is
    registered (same weights; the speed path of the demo). Anything else -> that path.
    """
    if str(spec) == DEFAULT_MODEL:
        if not DEFAULT_MODEL_FILE.is_file():
            raise FileNotFoundError(
                f"no default model is embedded in this installation (expected {DEFAULT_MODEL_FILE.name} "
                "in movnect/resources); pass a checkpoint path instead"
            )
        if fast:
            tflite = DEFAULT_MODEL_FILE.with_suffix(".tflite")
            runtime = _RUNTIMES.get(".tflite")
            if tflite.is_file() and runtime is not None and runtime.available():
                return tflite
        return DEFAULT_MODEL_FILE
    return Path(spec)


def load_estimator(spec: str | Path, fast: bool = False) -> PoseEstimator:
    """A PoseEstimator for a model spec (see the module docstring; `fast` as in
    `resolve_model_spec`). Raises FileNotFoundError / ValueError with one-line messages."""
    from movnect.checkpoint import load_model

    if str(spec).startswith(BLAZEPOSE_PREFIX):
        from movnect.blazepose.pose import BlazePoseEstimator

        return BlazePoseEstimator(str(spec)[len(BLAZEPOSE_PREFIX):])
    path = resolve_model_spec(spec, fast=fast)
    suffix = path.suffix.lower()
    if suffix in _RUNTIMES:
        return _RUNTIMES[suffix].load(path)
    if suffix in (".onnx", ".tflite", ".mlpackage"):
        raise ValueError(f"{path.name}: no runtime for {suffix} models is registered; "
                         "install the export extra (pip install 'movnect[export]') and import mobile_export.runtime")
    model, _cfg, codec, _ = load_model(path)
    return TorchEstimator(model, codec, name=path.name)


def predict_frame(estimator: PoseEstimator, frame: np.ndarray, box: CropBox) -> dict:
    """Run one (H, W, 3) uint8 RGB frame in one box (image pixels).

    Returns {"box": [x0, y0, side], "joints2d": (J, 2) image px, "joints3d": (J, 3)
    root-relative mm, "confidence": (J,)}, arrays float64.
    """
    size = estimator.codec.config.input_size
    crop = crop_image(frame, box, size)
    pred = estimator(crop[None])
    return {
        "box": box.as_array().tolist(),
        "joints2d": crop_to_image(pred.joints2d[0].astype(np.float64), box, size),
        "joints3d": pred.joints3d[0].astype(np.float64),
        "confidence": pred.confidence[0].astype(np.float64),
    }
