"""Self-describing exports: what the model expects, what it returns, and in which units.

`build_metadata` makes one JSON-ready dict (joint names and parents, input layout / dtype /
normalisation, output names / shapes / layouts / units, the codec, the model config, versions).
It is always written next to the model as a sidecar `<file>.json` and also embedded where the
format allows: ONNX `metadata_props`, a TFLite `metadata` entry named "movnect", CoreML
user-defined metadata (see the format modules). `read_metadata` gets it back from either.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from movnect import __version__, atomic, skeleton
from movnect.codec import Codec
from movnect.models import ModelConfig
from mobile_export.wrapper import INPUT_NAME, ExportSpec

METADATA_FORMAT = "movnect-export/1"
METADATA_KEY = "movnect"
FORMATS: tuple[str, ...] = ("coreml", "tflite", "onnx")
SUFFIXES: dict[str, str] = {"coreml": ".mlpackage", "tflite": ".tflite", "onnx": ".onnx"}


def output_descriptions(spec: ExportSpec, codec: Codec) -> list[dict[str, Any]]:
    """Name, shape, layout and units of every output of an exported model."""
    shapes = spec.output_shapes(codec)
    j, scale = codec.num_joints, codec.config.location_scale_mm
    if spec.decode:
        return [
            {"name": "joints2d", "shape": list(shapes["joints2d"]), "layout": "[batch, joint, (u, v)]",
             "units": "crop pixels, pixel centres at integers (0 .. input_size - 1)"},
            {"name": "joints3d", "shape": list(shapes["joints3d"]), "layout": "[batch, joint, (x, y, z)]",
             "units": "mm, root-relative (pelvis = 0), camera axes: x right, y down, z forward"},
            {"name": "confidence", "shape": list(shapes["confidence"]), "layout": "[batch, joint]",
             "units": "heatmap peak value (about 1 for a confident joint, near 0 for none)"},
        ]
    layout = "NHWC [batch, row, col, channel]" if spec.layout == "nhwc" else "NCHW [batch, channel, row, col]"
    return [{
        "name": "maps", "shape": list(shapes["maps"]), "layout": layout,
        "channels": f"heatmaps H (0..{j - 1}), then location maps X ({j}..{2 * j - 1}), "
                    f"Y ({2 * j}..{3 * j - 1}), Z ({3 * j}..{4 * j - 1}), joints in joint_names order",
        "units": f"H in [0, 1] (Gaussian, sigma {codec.config.sigma} cells); X, Y, Z root-relative "
                 f"in units of {scale:g} mm; map cell (i, j) is centred on crop pixel "
                 f"(stride * j + (stride - 1) / 2, stride * i + (stride - 1) / 2)",
        "decode": "movnect.codec.Codec.decode: argmax of H, log-parabola sub-cell refinement, "
                  "bilinear read of X, Y, Z at the peak, times location_scale_mm, minus the root",
    }]


def build_metadata(
    *, fmt: str, spec: ExportSpec, codec: Codec, model_config: ModelConfig, precision: str,
    int8_mode: str | None = None, source: str = "", input_kind: str = "tensor",
) -> dict[str, Any]:
    """The metadata dict written into exports and sidecars (see the module docstring).

    Args:
        fmt: "coreml", "tflite" or "onnx".
        spec: the exported graph's layout, input dtype and decode flag.
        codec, model_config: from the checkpoint.
        precision: "fp32", "fp16" or "int8"; int8_mode "weight" or "full" for TFLite int8.
        source: where the weights came from (checkpoint file name).
        input_kind: "tensor" or "image" (CoreML image input).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    size = codec.config.input_size
    from movnect.checkpoint import git_revision

    layout = spec.layout.upper()
    return {
        "format": METADATA_FORMAT,
        "movnect_version": __version__,
        "git": git_revision(),
        "source": source,
        "export": {"format": fmt, "precision": precision, "int8_mode": int8_mode, "decode": spec.decode},
        "model": {"config": asdict(model_config)},
        "codec": codec.to_dict(),
        "skeleton": {
            "joint_names": list(skeleton.JOINT_NAMES[: codec.num_joints]),
            "parents": list(skeleton.PARENTS[: codec.num_joints]),
            "root": skeleton.ROOT,
        },
        "input": {
            "name": INPUT_NAME,
            "kind": input_kind,
            "shape": list(spec.input_shape(size)),
            "layout": layout,
            "dtype": spec.input_dtype,
            "color": "RGB",
            "range": [0, 255],
            "content": f"square person crop, {size}x{size} pixels, raw camera pixels (no scaling)",
            "normalization": {
                "baked_in": True,
                "formula": "(x / 255 - mean) / std, per RGB channel",
                "mean": list(codec.config.mean),
                "std": list(codec.config.std),
            },
        },
        "outputs": output_descriptions(spec, codec),
    }


def sidecar_path(model_path: str | Path) -> Path:
    """`model.tflite` -> `model.tflite.json` (also for `.mlpackage` folders)."""
    p = Path(model_path)
    return p.with_name(p.name + ".json")


def write_sidecar(model_path: str | Path, meta: dict[str, Any]) -> Path:
    path = sidecar_path(model_path)
    atomic.write_json(path, meta, indent=2)
    return path


def spec_from_metadata(meta: dict[str, Any]) -> ExportSpec:
    """The ExportSpec an exported model was made with, from its metadata."""
    check_metadata(meta)
    inp = meta["input"]
    return ExportSpec(layout=inp["layout"].lower(), input_dtype=inp["dtype"],
                      decode=bool(meta["export"]["decode"]), batch=int(inp["shape"][0]))


def check_metadata(meta: Any, where: str = "metadata") -> dict[str, Any]:
    if not isinstance(meta, dict) or meta.get("format") != METADATA_FORMAT:
        raise ValueError(f"{where}: not movnect export metadata (expected format {METADATA_FORMAT})")
    return meta


def read_metadata(model_path: str | Path) -> dict[str, Any]:
    """Metadata embedded in an exported .onnx / .tflite / .mlpackage, else from the sidecar.

    Raises FileNotFoundError when the model is missing and ValueError when neither source
    holds movnect metadata.
    """
    p = Path(model_path)
    if not p.exists():
        raise FileNotFoundError(f"exported model not found: {p}")
    embedded: str | None = None
    suffix = p.suffix.lower()
    if suffix == ".onnx":
        embedded = _onnx_embedded(p)
    elif suffix == ".tflite":
        from mobile_export.tflite import read_tflite_metadata

        embedded = read_tflite_metadata(p.read_bytes(), METADATA_KEY)
    if embedded:
        return check_metadata(json.loads(embedded), f"{p} (embedded)")
    side = sidecar_path(p)
    if side.is_file():
        return check_metadata(json.loads(side.read_text()), str(side))
    raise ValueError(f"{p} carries no movnect metadata and has no sidecar {side.name}; "
                     "re-export it with `movnect export`")


def _onnx_embedded(path: Path) -> str | None:
    try:
        import onnx
    except ImportError:
        return None
    model = onnx.load(str(path), load_external_data=False)
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            return prop.value
    return None
