"""ONNX export through torch.onnx (dynamo exporter, opset 18, weights inside the file) and a
runner on ONNX Runtime.

The graph keeps the wrapper's NCHW input `image` and named outputs; the movnect metadata JSON
goes into `metadata_props` under the key "movnect", with a few flat keys for quick reading
(joint_names, input_layout, units).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from mobile_export.toolchain import require
from mobile_export.wrapper import INPUT_NAME, ExportWrapper

OPSET = 18


def convert_onnx(wrapper: ExportWrapper, meta: dict[str, Any] | None = None) -> bytes:
    """Serialized ONNX model of `wrapper` with `meta` embedded (see the module docstring)."""
    import torch

    require("onnxscript", "ONNX export")
    onnx = require("onnx", "ONNX export")
    names = list(wrapper.spec.output_names)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        torch.onnx.export(
            wrapper.eval(), (wrapper.example_input(),), path, input_names=[INPUT_NAME],
            output_names=names, opset_version=OPSET, dynamo=True, external_data=False,
            verbose=False,
        )
        model = onnx.load(path)
    if meta is not None:
        props = {
            "movnect": json.dumps(meta),
            "joint_names": ",".join(meta["skeleton"]["joint_names"]),
            "input_layout": f"{meta['input']['layout']} {meta['input']['dtype']} RGB 0..255",
            "outputs": ",".join(o["name"] for o in meta["outputs"]),
        }
        onnx.helper.set_model_props(model, props)
        model.doc_string = "MoVNect 3D pose: raw RGB crop in, see metadata_props['movnect']"
    return model.SerializeToString()


class OnnxRunner:
    """Run an .onnx file on ONNX Runtime's CPU provider: `runner(x)` -> dict name -> array."""

    def __init__(self, path: str | Path, num_threads: int = 2) -> None:
        ort = require("onnxruntime", "running .onnx models")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = num_threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        inputs = {i.name: i for i in self.session.get_inputs()}
        if INPUT_NAME not in inputs:
            raise ValueError(f"ONNX model has no input {INPUT_NAME!r} (inputs: {sorted(inputs)})")
        self.input_shape = tuple(inputs[INPUT_NAME].shape)
        self.input_dtype = np.uint8 if inputs[INPUT_NAME].type == "tensor(uint8)" else np.float32
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        if tuple(x.shape) != self.input_shape:
            raise ValueError(f"ONNX input: expected shape {self.input_shape}, got {tuple(x.shape)}")
        outs = self.session.run(self.output_names, {INPUT_NAME: np.ascontiguousarray(x, dtype=self.input_dtype)})
        return dict(zip(self.output_names, outs))
