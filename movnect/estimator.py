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

The flip test (`load_estimator(spec, flip=True)`, or `flip_test(estimator)`) is written once, here: the maps of
the crop and of its mirror image (mapped back with `Codec.flip_maps`) are averaged and then
decoded, for any estimator that exposes its maps (`MapsEstimator`: checkpoints, and exported
models without in-graph decoding), so an exported .tflite gets exactly the flip test of its .pt.

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


class MapsEstimator(PoseEstimator, Protocol):
    """A PoseEstimator that can also return the network's raw maps (what the flip test needs).
    `has_maps` is False for models that decode inside their graph (their `maps` raises)."""

    has_maps: bool

    def maps(self, crops: np.ndarray) -> torch.Tensor:
        """crops: (B, S, S, 3) uint8 RGB -> (B, 4J, S/stride, S/stride) float32 maps on the CPU."""
        ...


def decode_maps(codec: Codec, maps: torch.Tensor) -> Prediction:
    """(B, 4J, h, w) maps -> Prediction (numpy float32) through `codec.decode` (ValueError on
    non-finite maps)."""
    dec = codec.decode(maps.float().cpu())
    return Prediction(dec.joints2d.numpy().astype(np.float32), dec.confidence.numpy().astype(np.float32),
                      dec.joints3d.numpy().astype(np.float32))


def check_crops(crops: np.ndarray, size: int) -> np.ndarray:
    """`crops` as an array if it is (B, size, size, 3); ValueError naming the shape otherwise."""
    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[1:] != (size, size, 3):
        raise ValueError(f"expected crops (B, {size}, {size}, 3) RGB, got {crops.shape}")
    return crops


class TorchEstimator:
    """A PyTorch model + its codec; runs on CPU (or the model's device) without gradients."""

    has_maps = True

    def __init__(self, model: torch.nn.Module, codec: Codec, name: str = "torch") -> None:
        self.model = model.eval()
        self.codec = codec
        self.name = name

    def __call__(self, crops: np.ndarray) -> Prediction:
        return decode_maps(self.codec, self.maps(crops))

    @torch.no_grad()
    def maps(self, crops: np.ndarray) -> torch.Tensor:
        """(B, S, S, 3) uint8 RGB crops -> (B, 4J, h, w) float32 maps on the CPU."""
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
        return out.maps.float().cpu()


class FlipTest:
    """The flip test around a MapsEstimator: decode of 0.5 (maps(crop) + flip_maps(maps(mirror)))
    where mirror is the crop flipped left-right (width axis). Both halves run as one batch of 2B.
    Call `flip_test(estimator)` to get one with a clear error for estimators without maps."""

    has_maps = True

    def __init__(self, inner: MapsEstimator) -> None:
        self.inner = inner
        self.codec = inner.codec
        self.name = f"{inner.name} (flip test)"

    def maps(self, crops: np.ndarray) -> torch.Tensor:
        """(B, S, S, 3) uint8 RGB crops -> (B, 4J, h, w) float32 flip-averaged maps."""
        crops = check_crops(crops, self.codec.config.input_size)
        both = self.inner.maps(np.concatenate([crops, crops[:, :, ::-1]]))
        b = len(crops)
        return 0.5 * (both[:b] + self.codec.flip_maps(both[b:]))

    def __call__(self, crops: np.ndarray) -> Prediction:
        return decode_maps(self.codec, self.maps(crops))


def flip_test(estimator: PoseEstimator) -> FlipTest:
    """`estimator` with the flip test; ValueError (one line) when it exposes no maps (a model that
    decodes in its graph, BlazePose)."""
    maps = getattr(estimator, "maps", None)
    if not callable(maps) or not getattr(estimator, "has_maps", False):
        raise ValueError(f"{estimator.name}: the flip test averages the network's maps, and this model gives "
                         "decoded joints only (an export made with --decode, or not a MoVNect/VNect network); "
                         "use a checkpoint or an export without --decode")
    return FlipTest(estimator)  # type: ignore[arg-type]  # checked above: it has maps


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


def load_estimator(spec: str | Path, fast: bool = False, flip: bool = False, device: str = "cpu") -> PoseEstimator:
    """A PoseEstimator for a model spec (see the module docstring; `fast` as in
    `resolve_model_spec`; `flip`: with the flip test, see `flip_test`; `device`: the torch
    device of a checkpoint, exported models run on their runtime's CPU kernels).
    Raises FileNotFoundError / ValueError with one-line messages."""
    estimator = _load(spec, fast, device)
    return flip_test(estimator) if flip else estimator


def _load(spec: str | Path, fast: bool, device: str) -> PoseEstimator:
    from movnect.checkpoint import load_model

    if str(spec).startswith(BLAZEPOSE_PREFIX):
        from movnect.blazepose.pose import BlazePoseEstimator

        _cpu_only(str(spec), device)
        return BlazePoseEstimator(str(spec)[len(BLAZEPOSE_PREFIX):])
    path = resolve_model_spec(spec, fast=fast)
    suffix = path.suffix.lower()
    if suffix in _RUNTIMES:
        _cpu_only(path.name, device)
        if not path.exists():
            raise FileNotFoundError(f"model not found: {path}")
        return _RUNTIMES[suffix].load(path)
    if suffix in (".onnx", ".tflite", ".mlpackage"):
        raise ValueError(f"{path.name}: no runtime for {suffix} models is registered; "
                         "install the export extra (pip install 'movnect[export]') and import mobile_export.runtime")
    model, _cfg, codec, _ = load_model(path)
    return TorchEstimator(model.to(device), codec, name=path.name)


def _cpu_only(name: str, device: str) -> None:
    if device != "cpu":
        raise ValueError(f"{name} runs on its own runtime on the CPU; a torch device ({device}) applies to "
                         "PyTorch checkpoints only")


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
