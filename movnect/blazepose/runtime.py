"""A TFLite model run with LiteRT (`ai_edge_litert`, else the older `tflite_runtime`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from movnect.litert import INSTALL_HINT, interpreter_class


def _interpreter_class():
    try:
        return interpreter_class()
    except ImportError:
        raise ImportError(f"BlazePose needs the LiteRT runtime: {INSTALL_HINT} (make venv installs it)") from None


class TFLiteModel:
    """One .tflite file with one float32 input; `run(x)` returns every output, in the
    model's output order. `batch` > 1 resizes the input's first dimension where the model
    allows it (BlazePose's landmark models do)."""

    def __init__(self, path: str | Path, threads: int = 2, batch: int = 1) -> None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"model file not found: {path}")
        try:
            self._it = _interpreter_class()(model_path=str(path), num_threads=threads)
        except (ValueError, RuntimeError) as e:
            raise ValueError(f"{path}: not a loadable TFLite model ({e})") from None
        inp = self._it.get_input_details()
        if len(inp) != 1:
            raise ValueError(f"{path}: expected one input, found {len(inp)}")
        self._input = inp[0]["index"]
        self.input_shape = tuple(int(d) for d in inp[0]["shape"])
        self.batch = 1
        if batch != 1:
            self.resize(batch)
        self._it.allocate_tensors()
        self._outputs = [d["index"] for d in self._it.get_output_details()]

    def resize(self, batch: int) -> None:
        shape = (batch,) + self.input_shape[1:]
        self._it.resize_tensor_input(self._input, shape, strict=False)
        self._it.allocate_tensors()
        self.batch = batch

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.shape[1:] != self.input_shape[1:]:
            raise ValueError(f"expected input (B, {', '.join(map(str, self.input_shape[1:]))}), got {x.shape}")
        if x.shape[0] != self.batch:
            self.resize(x.shape[0])
        self._it.set_tensor(self._input, x)
        self._it.invoke()
        return [self._it.get_tensor(i).copy() for i in self._outputs]
