"""One export: checkpoint -> wrapper -> format file + embedded metadata + sidecar JSON.

`export_model` works on an in-memory model; `export_checkpoint` loads a checkpoint (or the
name "default") first. Defaults per format (chosen for what the platforms run best):
  tflite  NHWC uint8 input, fp32 (fp16 / int8 weight / int8 full on request)
  onnx    NCHW uint8 input, fp32 (fp16 / int8 are TFLite- and CoreML-only here)
  coreml  NCHW image input (or a float32 tensor), fp16 compute (fp32, int8 weights on request)
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from movnect import atomic
from movnect.codec import Codec
from movnect.models import ModelConfig
from mobile_export.metadata import FORMATS, SUFFIXES, build_metadata, write_sidecar
from mobile_export.wrapper import ExportSpec, ExportWrapper

PRECISIONS: dict[str, tuple[str, ...]] = {
    "tflite": ("fp32", "fp16", "int8"),
    "onnx": ("fp32",),
    "coreml": ("fp32", "fp16", "int8"),
}
DEFAULT_PRECISION = {"tflite": "fp32", "onnx": "fp32", "coreml": "fp16"}


@dataclass(frozen=True)
class ExportOptions:
    fmt: str
    precision: str | None = None        # None: the format's default (DEFAULT_PRECISION)
    int8_mode: str = "weight"           # TFLite int8: "weight" or "full"
    decode: bool = False                # decoding inside the graph
    input_size: int | None = None       # None: the checkpoint codec's input size
    coreml_input: str = "image"         # "image" or "tensor"

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ValueError(f"unknown export format {self.fmt!r}; choose one of {', '.join(FORMATS)}")
        if self.precision is not None and self.precision not in PRECISIONS[self.fmt]:
            raise ValueError(f"{self.fmt} export supports precision {', '.join(PRECISIONS[self.fmt])}, "
                             f"not {self.precision!r}")
        if self.int8_mode not in ("weight", "full"):
            raise ValueError(f"int8 mode must be 'weight' or 'full', got {self.int8_mode!r}")
        if self.int8_mode == "full" and self.fmt != "tflite":
            raise ValueError("full-integer int8 is a TFLite option; CoreML int8 compresses weights only")

    @property
    def resolved_precision(self) -> str:
        return self.precision or DEFAULT_PRECISION[self.fmt]

    @property
    def resolved_int8_mode(self) -> str | None:
        return self.int8_mode if self.resolved_precision == "int8" else None

    def spec(self) -> ExportSpec:
        if self.fmt == "tflite":
            return ExportSpec(layout="nhwc", input_dtype="uint8", decode=self.decode)
        if self.fmt == "onnx":
            return ExportSpec(layout="nchw", input_dtype="uint8", decode=self.decode)
        return ExportSpec(layout="nchw", input_dtype="float32", decode=self.decode)


@dataclass
class ExportResult:
    path: Path
    sidecar: Path
    meta: dict[str, Any]
    size_bytes: int
    codec: Codec


def with_input_size(codec: Codec, size: int | None) -> Codec:
    """The codec with another crop size (the networks are fully convolutional)."""
    if size is None or size == codec.config.input_size:
        return codec
    if size <= 0 or size % 16:
        raise ValueError(f"input size must be a positive multiple of 16, got {size}")
    return Codec(replace(codec.config, input_size=size))


def output_path(out: str | Path, fmt: str) -> Path:
    """`out` with the format's suffix: kept if present, added if missing (`model` or
    `model.v2` -> `model.onnx`, `model.v2.onnx`), an error if it is another format's."""
    p = Path(out)
    want = SUFFIXES[fmt]
    if p.suffix.lower() == want:
        return p
    if p.suffix.lower() in SUFFIXES.values():
        raise ValueError(f"{fmt} models are written as {want}, got {p.name}")
    return p.with_name(p.name + want)


def check_export_output(path: Path, fmt: str) -> None:
    """OSError before any conversion if the model or its sidecar cannot be written there."""
    if fmt == "coreml":
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"--out: {path} is a file; a CoreML package is a folder")
        atomic.check_output_dir(path.parent, "--out")
    else:
        atomic.check_output_file(path, "--out")
    atomic.check_output_file(path.with_name(path.name + ".json"), "--out (sidecar)")


def path_size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def export_model(
    model: nn.Module, model_config: ModelConfig, codec: Codec, out: str | Path, options: ExportOptions,
    calibration: np.ndarray | None = None, source: str = "",
) -> ExportResult:
    """Export `model` to `out` as described by `options`; see the module docstring.

    Args:
        calibration: (N, S, S, 3) uint8 RGB crops for full-integer TFLite int8.
        source: a name for the weights' origin, recorded in the metadata.
    Returns:
        ExportResult with the written path, the sidecar path, the metadata and the size.
    """
    path = output_path(out, options.fmt)
    check_export_output(path, options.fmt)
    codec = with_input_size(codec, options.input_size)
    spec = options.spec()
    wrapper = ExportWrapper(model.eval(), codec, spec).eval()
    precision, int8_mode = options.resolved_precision, options.resolved_int8_mode
    meta = build_metadata(
        fmt=options.fmt, spec=spec, codec=codec, model_config=model_config, precision=precision,
        int8_mode=int8_mode, source=source, input_kind=options.coreml_input if options.fmt == "coreml" else "tensor",
    )
    if options.fmt == "tflite":
        from mobile_export.metadata import METADATA_KEY
        from mobile_export.tflite import convert_tflite, embed_tflite_metadata, quantize_tflite

        calib = None
        if int8_mode == "full":
            if calibration is None:
                raise ValueError("full-integer int8 needs calibration frames (--calibration FILE.h5 or a folder of images)")
            calib = _check_frames(calibration, codec.config.input_size)
        data = quantize_tflite(convert_tflite(wrapper), precision, int8_mode or "weight", calib)
        import json

        atomic.write_bytes(path, embed_tflite_metadata(data, METADATA_KEY, json.dumps(meta)))
    elif options.fmt == "onnx":
        from mobile_export.onnx import convert_onnx

        atomic.write_bytes(path, convert_onnx(wrapper, meta))
    else:
        from mobile_export.coreml import convert_coreml, save_coreml

        mlmodel = convert_coreml(wrapper, precision, options.coreml_input, meta)
        with atomic.atomic_dir(path) as fresh:  # the old package stays until the new one is complete
            save_coreml(mlmodel, fresh)
    sidecar = write_sidecar(path, meta)
    return ExportResult(path, sidecar, meta, path_size(path), codec)


def _check_frames(frames: np.ndarray, size: int) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[1:] != (size, size, 3):
        raise ValueError(f"calibration frames: expected (N, {size}, {size}, 3) RGB, got {frames.shape}")
    return frames.astype(np.uint8)


def load_checkpoint_for_export(spec: str | Path) -> tuple[nn.Module, ModelConfig, Codec, str]:
    """(model, config, codec, source name) from a checkpoint path or the name "default"."""
    from movnect.checkpoint import load_model
    from movnect.estimator import resolve_model_spec

    path = resolve_model_spec(spec)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    model, cfg, codec, _ = load_model(path)
    return model, cfg, codec, path.name


def export_checkpoint(
    checkpoint: str | Path, out: str | Path, options: ExportOptions,
    calibration: str | Path | None = None, verify: bool = False, frames: str | Path | None = None,
    frame_count: int = 16, calibration_count: int = 32,
) -> tuple[ExportResult, Any]:
    """Load `checkpoint` ("default" allowed), export it, optionally verify it.

    Args:
        calibration: frames source (.h5, image folder, video) for full-integer TFLite int8.
        verify: run the exported model against PyTorch on `frames` (see mobile_export.verify).
        frames: frames source for verification; None: generated stick figures.
    Returns:
        (ExportResult, VerifyReport or None).
    """
    from mobile_export.frames import load_frames, sample_frames

    check_export_output(output_path(out, options.fmt), options.fmt)  # before the slow part
    model, cfg, codec, source = load_checkpoint_for_export(checkpoint)
    size = with_input_size(codec, options.input_size).config.input_size
    calib = None
    if options.resolved_int8_mode == "full":
        if calibration is None:
            raise ValueError("full-integer int8 needs calibration frames: --calibration FILE.h5 or a folder of images")
        calib = load_frames(calibration, size, calibration_count)
    result = export_model(model, cfg, codec, out, options, calibration=calib, source=source)
    report = None
    if verify:
        from mobile_export.verify import verify_export

        sample, where = sample_frames(frames, size, frame_count)
        report = verify_export(result.path, model, result.codec, sample, options.resolved_precision,
                               options.resolved_int8_mode)
        report.notes.insert(0, f"frames: {where}")
    return result, report
