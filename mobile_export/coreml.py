"""CoreML export (mlprogram .mlpackage) through torch.export and coremltools.

  ep = torch.export.export(wrapper, (x,)).run_decompositions({})   # ATEN dialect is required
  ct.convert(ep, inputs=[ImageType | TensorType], outputs=[TensorType(float32)...],
             convert_to="mlprogram", compute_precision=..., minimum_deployment_target=iOS16)

Input: an RGB image (CVPixelBuffer / CGImage in the app; scale 1, bias 0, so the graph sees the
raw 0..255 pixel values and applies its own baked-in normalisation) or, with
`input_kind="tensor"`, a float32 (1, 3, S, S) multi-array of 0..255 values.
Precision: fp32 (float32 compute), fp16 (float16 compute, the default and what the Neural
Engine runs), int8 (fp16 compute, weights compressed to int8 with
coremltools.optimize.coreml.linear_quantize_weights). Outputs are float32 arrays whatever the
compute precision.
Linux cannot run CoreML predictions; `read_coreml_spec` reads the package back, and
mobile_export.mil_check executes the saved program numerically.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from mobile_export.toolchain import require
from mobile_export.wrapper import INPUT_NAME, ExportWrapper

INPUT_KINDS = ("image", "tensor")
_DESCRIPTIONS = {
    "maps": "heatmaps H | location maps X, Y, Z (see metadata 'movnect' for layout and units)",
    "joints2d": "2D joints in crop pixels (u, v), joint order as metadata joint_names",
    "joints3d": "3D joints in mm, root-relative, camera axes x right, y down, z forward",
    "confidence": "per-joint heatmap peak value",
}


def convert_coreml(
    wrapper: ExportWrapper, precision: str = "fp16", input_kind: str = "image",
    meta: dict[str, Any] | None = None,
) -> Any:
    """An in-memory coremltools MLModel of `wrapper` (NCHW float32 input) with `meta` embedded."""
    import torch

    ct = require("coremltools", "CoreML export")
    if wrapper.spec.layout != "nchw" or wrapper.spec.input_dtype != "float32":
        raise ValueError("CoreML export needs an NCHW float32 wrapper (ExportSpec(layout='nchw', input_dtype='float32'))")
    if precision not in ("fp32", "fp16", "int8"):
        raise ValueError(f"unknown CoreML precision {precision!r}; choose fp32, fp16 or int8")
    if input_kind not in INPUT_KINDS:
        raise ValueError(f"unknown CoreML input kind {input_kind!r}; choose one of {INPUT_KINDS}")
    x = wrapper.example_input().to(torch.float32)
    ep = torch.export.export(wrapper.eval(), (x,)).run_decompositions({})
    # ct.convert mutates the type objects it is given: build fresh ones for every call.
    if input_kind == "image":
        inp = ct.ImageType(name=INPUT_NAME, shape=tuple(x.shape), color_layout=ct.colorlayout.RGB,
                           scale=1.0, bias=[0.0, 0.0, 0.0])
    else:
        inp = ct.TensorType(name=INPUT_NAME, shape=tuple(x.shape), dtype=np.float32)
    outputs = [ct.TensorType(name=n, dtype=np.float32) for n in wrapper.spec.output_names]
    compute = ct.precision.FLOAT32 if precision == "fp32" else ct.precision.FLOAT16
    model = ct.convert(
        ep, inputs=[inp], outputs=outputs, convert_to="mlprogram", compute_precision=compute,
        minimum_deployment_target=ct.target.iOS16,
    )
    if precision == "int8":
        from coremltools.optimize import coreml as cto

        config = cto.OptimizationConfig(
            global_config=cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8")
        )
        model = cto.linear_quantize_weights(model, config)
    if meta is not None:
        _set_metadata(model, meta)
    return model


def _set_metadata(model: Any, meta: dict[str, Any]) -> None:
    model.author = "movnect"
    model.short_description = (
        "MoVNect 3D human pose from one RGB person crop "
        f"({meta['input']['shape'][-1]}x{meta['input']['shape'][-1]} px, raw 0..255 pixels)"
    )
    model.version = str(meta.get("movnect_version", ""))
    model.user_defined_metadata["movnect"] = json.dumps(meta)
    model.user_defined_metadata["joint_names"] = ",".join(meta["skeleton"]["joint_names"])
    model.input_description[INPUT_NAME] = (
        f"RGB person crop, values 0..255, normalisation inside the model ({meta['input']['kind']})"
    )
    for out in meta["outputs"]:
        model.output_description[out["name"]] = f"{_DESCRIPTIONS[out['name']]}; {out['units']}"


def save_coreml(model: Any, path: str | Path) -> Path:
    path = Path(path)
    if path.suffix != ".mlpackage":
        raise ValueError(f"CoreML mlprogram models are saved as .mlpackage folders, got {path.name}")
    model.save(str(path))
    return path


def read_coreml_spec(path: str | Path) -> dict[str, Any]:
    """Input/output names, types and shapes and the metadata of a saved .mlpackage (works on Linux).

    Returns {"inputs": {name: {"type": "image"|"multiarray", "shape": [...], ...}},
             "outputs": {name: {"type": ..., "shape": [...], "dtype": ...}},
             "metadata": {user-defined key: value}, "description": str, "spec_version": int}
    """
    ct = require("coremltools", "reading CoreML models")
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"CoreML model not found: {p}")
    spec = ct.models.MLModel(str(p), skip_model_load=True).get_spec()

    def feature(f: Any) -> dict[str, Any]:
        kind = f.type.WhichOneof("Type")
        if kind == "imageType":
            t = f.type.imageType
            color = ct.proto.FeatureTypes_pb2.ImageFeatureType.ColorSpace.Name(t.colorSpace)
            return {"type": "image", "shape": [1, 3, int(t.height), int(t.width)], "color": color}
        if kind == "multiArrayType":
            t = f.type.multiArrayType
            dtype = ct.proto.FeatureTypes_pb2.ArrayFeatureType.ArrayDataType.Name(t.dataType)
            return {"type": "multiarray", "shape": [int(s) for s in t.shape], "dtype": dtype}
        return {"type": kind, "shape": []}

    desc = spec.description
    return {
        "inputs": {f.name: feature(f) for f in desc.input},
        "outputs": {f.name: feature(f) for f in desc.output},
        "metadata": dict(desc.metadata.userDefined),
        "description": desc.metadata.shortDescription,
        "spec_version": int(spec.specificationVersion),
    }
