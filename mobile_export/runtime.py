"""Run exported models like PyTorch checkpoints: `load_exported(path) -> PoseEstimator`.

Importing this module registers the .onnx and .tflite runtimes with `movnect.estimator`
(`register_runtime`), so `movnect.estimator.load_estimator` hands those files here, so `movnect predict`,
`movnect eval` and `movnect demo` run them through the same pipeline. The model's metadata
(embedded, or the sidecar JSON) says how to feed it (layout, dtype, crop size) and whether it
decodes in the graph; maps-output models are decoded with the same Python codec as checkpoints
and give their maps to the flip test (movnect.estimator.flip_test).
`open_runner` is the format-independent "array in, dict of arrays out" used by verify and the
benchmark; for a .mlpackage it runs the Linux MIL checker (mobile_export.mil_check), which is a
numeric check, not a fast runtime.
"""
from __future__ import annotations

import importlib.util
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from movnect.codec import Codec
from movnect.estimator import Prediction, Runtime, check_crops, decode_maps, register_runtime
from mobile_export.metadata import read_metadata, spec_from_metadata
from mobile_export.wrapper import INPUT_NAME, ExportSpec

Runner = Callable[[np.ndarray], dict[str, np.ndarray]]


@contextmanager
def torch_single_thread() -> Iterator[None]:
    """Run small torch work (the decoder) on one thread.

    The decoder's tensors are tiny; with several threads torch's OpenMP workers keep spinning
    after it returns and take the cores from the next TFLite / ONNX Runtime call (measured:
    9.0 -> 14.6 ms per student frame on 2 cores)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
RUNNABLE = (".onnx", ".tflite", ".mlpackage")


def format_of(path: str | Path) -> str:
    """'onnx', 'tflite' or 'coreml' from the file suffix."""
    suffix = Path(path).suffix.lower()
    formats = {".onnx": "onnx", ".tflite": "tflite", ".mlpackage": "coreml"}
    if suffix not in formats:
        raise ValueError(f"{Path(path).name}: unknown exported model type {suffix or '(no suffix)'}; "
                         f"expected one of {', '.join(formats)}")
    return formats[suffix]


def open_runner(path: str | Path, num_threads: int = 2) -> Runner:
    """A callable taking one input array (the model's layout and dtype) and returning its outputs."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"exported model not found: {p}")
    fmt = format_of(p)
    if fmt == "onnx":
        from mobile_export.onnx import OnnxRunner

        return OnnxRunner(p, num_threads)
    if fmt == "tflite":
        from mobile_export.tflite import TFLiteRunner

        return TFLiteRunner(p, num_threads)
    from mobile_export.mil_check import load_program, run_program

    program = load_program(p)
    return lambda x: run_program(program, {INPUT_NAME: np.asarray(x, dtype=np.float32)})


def maps_to_nchw(maps: np.ndarray, spec: ExportSpec) -> np.ndarray:
    """The `maps` output in (B, 4J, h, w) whatever the model's layout."""
    return np.transpose(maps, (0, 3, 1, 2)) if spec.layout == "nhwc" else maps


def crops_to_input(crops: np.ndarray, spec: ExportSpec) -> np.ndarray:
    """(B, S, S, 3) uint8 RGB crops -> the exported input array (layout, dtype)."""
    x = crops if spec.layout == "nhwc" else np.transpose(crops, (0, 3, 1, 2))
    return np.ascontiguousarray(x, dtype=np.uint8 if spec.input_dtype == "uint8" else np.float32)


class ExportedEstimator:
    """PoseEstimator over an exported model (see the module docstring).

    Called with (B, S, S, 3) uint8 RGB crops, returns Prediction(joints2d (B, J, 2) crop px,
    confidence (B, J), joints3d (B, J, 3) root-relative mm), like TorchEstimator. A maps-output
    model also gives its maps (`maps`, a movnect.estimator.MapsEstimator), which is what the flip
    test (movnect.estimator.flip_test) averages; an in-graph-decoding one has `has_maps` False.
    """

    def __init__(self, path: str | Path, num_threads: int = 2) -> None:
        self.path = Path(path)
        self.meta: dict[str, Any] = read_metadata(self.path)
        self.spec = spec_from_metadata(self.meta)
        self.codec = Codec.from_dict(self.meta["codec"])
        self.name = self.path.name
        self.has_maps = not self.spec.decode
        self.runner = open_runner(self.path, num_threads)
        export = self.meta["export"]
        self.note = (f"exported model: {export['format']} {export['precision']}"
                     f"{' (' + export['int8_mode'] + ')' if export.get('int8_mode') else ''}"
                     f"{', decoding in the graph' if self.spec.decode else ''}")

    def raw(self, crops: np.ndarray) -> list[dict[str, np.ndarray]]:
        """The model's own outputs for each crop (one run per exported batch)."""
        crops = check_crops(crops, self.codec.config.input_size)
        b = self.spec.batch
        if len(crops) % b:
            raise ValueError(f"{self.name} takes batches of {b} crops, got {len(crops)}")
        return [self.runner(crops_to_input(crops[i: i + b], self.spec)) for i in range(0, len(crops), b)]

    def maps(self, crops: np.ndarray) -> torch.Tensor:
        """(B, S, S, 3) uint8 RGB crops -> (B, 4J, h, w) float32 maps (NCHW whatever the file's layout)."""
        if not self.has_maps:
            raise ValueError(f"{self.name} decodes in its graph: it gives no maps (re-export without --decode)")
        maps = np.concatenate([maps_to_nchw(o["maps"], self.spec) for o in self.raw(crops)])
        if not np.isfinite(maps).all():
            raise ValueError(f"{self.name}: model output contains NaN or infinite values")
        return torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32))

    def __call__(self, crops: np.ndarray) -> Prediction:
        if not self.has_maps:
            outs = self.raw(crops)
            return Prediction(*(np.concatenate([o[k] for o in outs]).astype(np.float32)
                                for k in ("joints2d", "confidence", "joints3d")))
        maps = self.maps(crops)
        with torch_single_thread():
            return decode_maps(self.codec, maps)


def load_exported(path: str | Path, num_threads: int = 2) -> ExportedEstimator:
    """A PoseEstimator for an exported .onnx or .tflite file (a .mlpackage runs on the slow
    Linux MIL checker; use it on Apple platforms for real).

    A file its parser or runtime cannot read (truncated, not a model, another format under this
    suffix) is a ValueError of one line naming the file; a missing file FileNotFoundError; a
    missing runtime package ToolchainError (an ImportError)."""
    try:
        return ExportedEstimator(path, num_threads)
    except (FileNotFoundError, ImportError, ValueError):
        raise
    except Exception as exc:  # flatbuffer / protobuf / runtime errors of many types, often multi-line
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ValueError(f"{Path(path).name} is not a readable {format_of(path)} model "
                         f"({type(exc).__name__}: {first})") from None


def _installed(*modules: str) -> Callable[[], bool]:
    """True when any of `modules` can be imported (checked without importing it)."""
    def available() -> bool:
        return any(importlib.util.find_spec(m) is not None for m in modules)
    return available


register_runtime(".onnx", Runtime("onnxruntime", load_exported, _installed("onnxruntime")))
# ai_edge_litert first, tflite_runtime as the fallback: the order mobile_export.tflite loads them in
register_runtime(".tflite", Runtime("litert", load_exported, _installed("ai_edge_litert", "tflite_runtime")))
