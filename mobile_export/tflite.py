"""TFLite export through litert-torch, quantization through ai-edge-quantizer, and a runner.

Conversion: `litert_torch.convert(wrapper, sample_kwargs={"image": x})` keeps the wrapper's
NHWC input and dict outputs, so the signature `serving_default` has the input `image` and the
outputs named as in the wrapper (`maps` or `joints2d`, `joints3d`, `confidence`).

Precision (post-training, on the float .tflite, no TensorFlow needed):
  fp32          the converted model as is
  fp16          weights stored as float16 (FLOAT_CASTING), computed in float32
  int8 weight   int8 channel-wise weights dequantized at load, float compute
  int8 full     int8 weights and activations (static, calibrated on real frames) for the
                network's ops; normalisation and in-graph decoding stay float32 (argmax, log
                and sub-pixel arithmetic on int8 would throw away the precision decoding needs)
Metadata goes into the flatbuffer's `metadata` table as an entry named "movnect".
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from mobile_export.toolchain import ToolchainError, require
from mobile_export.wrapper import INPUT_NAME, ExportWrapper

SIGNATURE = "serving_default"
# Op output tensors inside the wrapped network are named "<...>ExportWrapper/<module path>" by
# the converter, the wrapper's own normalisation and decoding ops are not (see module
# docstring); `embed_tflite_metadata` shortens the former to "n<index>", the rest to "t<index>".
# (The quantizer searches the regex in "name;" strings.)
NETWORK_TENSORS = r"ExportWrapper/|^n\d+(;|$)"
INT8_MODES = ("weight", "full")


def convert_tflite(wrapper: ExportWrapper, progress: bool = False) -> bytes:
    """The float .tflite flatbuffer of `wrapper` (input: `wrapper.example_input()`'s shape)."""
    litert_torch = require("litert_torch", "TFLite export")
    litert_torch.config.show_progress = progress
    edge = litert_torch.convert(wrapper.eval(), sample_kwargs={INPUT_NAME: wrapper.example_input()})
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.tflite")
        edge.export(path)
        return Path(path).read_bytes()


def quantize_tflite(
    model: bytes, precision: str, int8_mode: str = "weight", calibration: np.ndarray | None = None,
    keep_last_float: bool = True,
) -> bytes:
    """Post-training quantization of a float .tflite (see the module docstring).

    Args:
        model: float flatbuffer bytes from `convert_tflite`.
        precision: "fp32" (returned unchanged), "fp16" or "int8".
        int8_mode: "weight" or "full" (int8 only).
        calibration: for full int8, (N, ...) frames in the model's input layout and dtype.
        keep_last_float: for full int8, leave the network's last convolution (the maps) in float.
    """
    if precision == "fp32":
        return model
    aeq = require("ai_edge_quantizer", "TFLite quantization")
    from ai_edge_quantizer import qtyping, quantizer

    qt = quantizer.Quantizer(bytearray(model))
    ops = qtyping.TFLOperationName.ALL_SUPPORTED
    if precision == "fp16":
        qt.add_weight_only_config(regex=".*", operation_name=ops, num_bits=16, algorithm_key="float_casting")
    elif precision == "int8" and int8_mode == "weight":
        qt.load_quantization_recipe(aeq.recipe.weight_only_wi8_afp32())
    elif precision == "int8" and int8_mode == "full":
        if calibration is None or len(calibration) == 0:
            raise ValueError("full-integer int8 needs calibration frames (--calibration FILE.h5 or a folder of images)")
        qt.add_static_config(regex=NETWORK_TENSORS, operation_name=ops, activation_num_bits=8, weight_num_bits=8)
        last = last_conv_output(model)
        if last is not None and keep_last_float:
            # The last conv writes heatmaps (0..1) and location maps (about +-20 units) into one
            # tensor: one int8 scale for both would leave heatmaps a resolution of ~0.15.
            qt.update_quantization_recipe(regex="^" + re.escape(last) + ";", operation_name=qtyping.TFLOperationName.CONV_2D,
                                          algorithm_key="no_quantize")
    else:
        raise ValueError(f"unknown TFLite precision {precision!r} / int8 mode {int8_mode!r}; "
                         f"choose fp32, fp16 or int8 with int8 mode in {INT8_MODES}")
    result = None
    if qt.need_calibration:
        samples = [{INPUT_NAME: np.ascontiguousarray(f[None])} for f in calibration]
        result = qt.calibrate({SIGNATURE: samples}, num_threads=2)
    out = qt.quantize(result, enable_progress_bar=False, enable_progress_report=False)
    return bytes(out.quantized_model)


def last_conv_output(model: bytes) -> str | None:
    """Name of the output tensor of the last CONV_2D op in the main subgraph (None if none)."""
    from ai_edge_litert import schema_py_generated as schema

    root = schema.Model.GetRootAs(model, 0)
    graph = root.Subgraphs(0)
    name = None
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = root.OperatorCodes(op.OpcodeIndex())
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) == schema.BuiltinOperator.CONV_2D:
            name = _name(graph.Tensors(op.Outputs(0)).Name())
    return name


def embed_tflite_metadata(model: bytes, key: str, text: str, short_names: bool = True) -> bytes:
    """Add (or replace) a `metadata` entry `key` holding UTF-8 `text` in a .tflite flatbuffer.

    With `short_names`, internal tensors (not signature inputs/outputs) are renamed: the
    converter names them after the full PyTorch module path, about 100 kB of strings. Tensors
    of the wrapped network become `n<index>`, the others `t<index>`, so full-integer
    quantization (NETWORK_TENSORS) still finds the network in an exported file.
    """
    require("ai_edge_litert", "TFLite metadata")
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    obj = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    if short_names:
        for g, graph in enumerate(obj.subgraphs):
            keep = set(graph.inputs) | set(graph.outputs)
            for i, tensor in enumerate(graph.tensors):
                if i not in keep:
                    tag = "n" if re.search(NETWORK_TENSORS, _name(tensor.name or b"")) else "t"
                    tensor.name = f"{tag}{i}" if g == 0 else f"{tag}{g}_{i}"
    buf = schema.BufferT()
    buf.data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()
    obj.buffers.append(buf)
    entry = schema.MetadataT()
    entry.name = key
    entry.buffer = len(obj.buffers) - 1
    obj.metadata = [m for m in (obj.metadata or []) if _name(m.name) != key] + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(obj))


def read_tflite_metadata(model: bytes, key: str) -> str | None:
    """The text of metadata entry `key` in a .tflite flatbuffer, or None."""
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        try:
            from tflite_runtime import schema_py_generated as schema  # type: ignore[no-redef]  # same module, older package
        except ImportError:
            return None
    root = schema.Model.GetRootAs(model, 0)
    for i in range(root.MetadataLength()):
        meta = root.Metadata(i)
        if _name(meta.Name()) != key:
            continue
        buffer = root.Buffers(meta.Buffer())
        if buffer.Offset() > 1:  # data stored after the flatbuffer (large models)
            return bytes(model[buffer.Offset(): buffer.Offset() + buffer.Size()]).decode("utf-8")
        return buffer.DataAsNumpy().tobytes().decode("utf-8")
    return None


def _name(name: Any) -> str:
    return name.decode("utf-8") if isinstance(name, bytes) else str(name)


def tflite_op_names(model: bytes) -> list[str]:
    """Builtin operator names of the model's main subgraph, in execution order."""
    interp = make_interpreter(model, num_threads=1)
    return [op["op_name"] for op in interp._get_ops_details()]


def make_interpreter(model: bytes | str | Path, num_threads: int = 2) -> Any:
    """A TFLite Interpreter from ai_edge_litert (XNNPACK), else from tflite_runtime."""
    from movnect.litert import INSTALL_HINT, interpreter_class

    try:
        Interpreter = interpreter_class()
    except ImportError:
        raise ToolchainError(f"running .tflite models needs a TFLite interpreter: {INSTALL_HINT}") from None
    if isinstance(model, (bytes, bytearray)):
        return Interpreter(model_content=bytes(model), num_threads=num_threads)
    return Interpreter(model_path=str(model), num_threads=num_threads)


class TFLiteRunner:
    """Run a .tflite signature: `runner(x)` -> dict of output name -> numpy array."""

    def __init__(self, model: bytes | str | Path, num_threads: int = 2) -> None:
        self.interpreter = make_interpreter(model, num_threads)
        self._run = self.interpreter.get_signature_runner(SIGNATURE)
        details = self._run.get_input_details()
        if INPUT_NAME not in details:
            raise ValueError(f"TFLite model has no input {INPUT_NAME!r} (inputs: {sorted(details)})")
        self.input_shape = tuple(int(s) for s in details[INPUT_NAME]["shape"])
        self.input_dtype = np.dtype(details[INPUT_NAME]["dtype"])
        self.output_names = sorted(self._run.get_output_details())

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        if tuple(x.shape) != self.input_shape:
            raise ValueError(f"TFLite input: expected shape {self.input_shape}, got {tuple(x.shape)}")
        out = self._run(**{INPUT_NAME: np.ascontiguousarray(x, dtype=self.input_dtype)})
        return {k: np.asarray(v) for k, v in out.items()}
