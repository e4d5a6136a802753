"""Execute a saved CoreML mlprogram on Linux, op by op, to check the converted graph numerically.

Linux cannot run CoreML predictions. This module loads the .mlpackage's MIL program with
`coremltools.converters.mil.frontend.milproto.load.load` and executes its operations with
torch on the CPU, in program order. Each op computes in float32 and its result is rounded to
the dtype the program declares for it (fp16 ops thus behave like fp16 storage with float32
accumulation). It checks the converted graph and the stored (possibly compressed) weights,
not Apple's kernels: the remaining gap on a device is the kernels' own rounding.

Only the op types listed in `SUPPORTED_OPS` are executed; any other raises UnsupportedMILOp
naming it. The set covers the MoVNect students and the in-graph decoder.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mobile_export.toolchain import require


class UnsupportedMILOp(NotImplementedError):
    """The program uses an op type this checker does not execute."""


_DTYPES = {"fp16": torch.float16, "fp32": torch.float32, "int32": torch.int32, "int16": torch.int16,
           "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool, "fp64": torch.float64,
           "int64": torch.int64}


class _Op:
    """Argument access for one MIL op: `t(name)` tensors (float32 for floats), `v(name)` raw values."""

    def __init__(self, op: Any, env: dict[str, Tensor]) -> None:
        self.op, self.env = op, env

    def has(self, name: str) -> bool:
        return self.op.inputs.get(name) is not None

    def _value(self, var: Any) -> Any:
        if var.name in self.env:
            return self.env[var.name]
        if var.val is None:
            raise ValueError(f"MIL op {self.op.name}: input {var.name} has no value")
        return var.val

    def v(self, name: str, default: Any = None) -> Any:
        var = self.op.inputs.get(name)
        if var is None:
            return default
        if isinstance(var, (list, tuple)):
            return [self._value(x) for x in var]
        val = self._value(var)
        if isinstance(val, Tensor):
            return val
        arr = np.asarray(val)
        return arr.item() if arr.ndim == 0 and arr.dtype.kind in "biuf" else (val if arr.dtype.kind in "USO" else arr)

    def t(self, name: str) -> Tensor:
        return _tensor(self.v(name))

    def ts(self, name: str) -> list[Tensor]:
        return [_tensor(x) for x in self.v(name)]

    def ints(self, name: str, default: Any = None) -> list[int]:
        val = self.v(name, default)
        if isinstance(val, Tensor):
            val = val.tolist()
        return [int(x) for x in np.atleast_1d(np.asarray(val))]


def _tensor(x: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x.float() if x.is_floating_point() else x
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        return torch.from_numpy(arr.astype(np.float32))
    if arr.dtype.kind == "b":
        return torch.from_numpy(arr.copy())
    return torch.from_numpy(arr.astype(np.int64))


def _conv(a: _Op) -> Tensor:
    x, w = a.t("x"), a.t("weight")
    nd = w.ndim - 2
    strides = a.ints("strides", [1] * nd)
    dil = a.ints("dilations", [1] * nd)
    groups = int(a.v("groups", 1))
    pads = _padding(str(a.v("pad_type", "valid")), a.ints("pad", [0] * 2 * nd), x.shape[2:], w.shape[2:], strides, dil)
    if any(pads):
        flat = []
        for i in reversed(range(nd)):  # F.pad wants the last dimension first
            flat += [pads[2 * i], pads[2 * i + 1]]
        x = F.pad(x, flat)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    return conv(x, w, a.t("bias") if a.has("bias") else None, stride=strides, dilation=dil, groups=groups)


def _padding(pad_type: str, pad: list[int], size: Any, kernel: Any, strides: list[int], dil: list[int]) -> list[int]:
    if pad_type == "custom":
        return pad
    if pad_type == "valid":
        return [0] * 2 * len(kernel)
    out: list[int] = []
    for n, k, s, d in zip(size, kernel, strides, dil):
        total = max((-(-int(n) // s) - 1) * s + (int(k) - 1) * d + 1 - int(n), 0)
        before = total // 2 if pad_type == "same" else total - total // 2
        out += [before, total - before]
    return out


def _resize_axis(x: Tensor, axis: int, out_size: int, coords: Tensor) -> Tensor:
    """Linear interpolation of `x` along `axis` at (clamped) source coordinates."""
    n = x.shape[axis]
    coords = coords.clamp(0, n - 1)
    lo = coords.floor().long().clamp(0, n - 1)
    hi = (lo + 1).clamp(max=n - 1)
    frac = (coords - lo.float()).view([-1 if i == axis % x.ndim else 1 for i in range(x.ndim)])
    return x.index_select(axis, lo) * (1 - frac) + x.index_select(axis, hi) * frac


def _grid(n_in: int, n_out: int, mode: str) -> Tensor:
    i = torch.arange(n_out, dtype=torch.float32)
    if mode in ("STRICT_ALIGN_CORNERS", "ALIGN_CORNERS"):
        if n_out == 1:
            return torch.full((1,), (n_in - 1) / 2.0 if mode == "ALIGN_CORNERS" else 0.0)
        return i * (n_in - 1) / (n_out - 1)
    if mode == "UNALIGN_CORNERS":
        s = n_in / n_out
        return i * s + 0.5 * s - 0.5
    if mode == "DEFAULT":
        return i * (n_in - n_in / n_out) / max(n_out - 1, 1)
    if mode == "LEGACY":
        return i * n_in / n_out
    raise UnsupportedMILOp(f"resize sampling mode {mode!r} is not supported by the Linux MIL checker")


def _bilinear(x: Tensor, h_out: int, w_out: int, mode: str) -> Tensor:
    x = _resize_axis(x, -2, h_out, _grid(x.shape[-2], h_out, mode))
    return _resize_axis(x, -1, w_out, _grid(x.shape[-1], w_out, mode))


def _upsample_bilinear(a: _Op) -> Tensor:
    x = a.t("x")
    h = int(np.floor(float(a.v("scale_factor_height", 1)) * x.shape[-2]))
    w = int(np.floor(float(a.v("scale_factor_width", 1)) * x.shape[-1]))
    align = bool(a.v("align_corners", True))
    half = bool(a.v("half_pixel_centers", not align))
    mode = "STRICT_ALIGN_CORNERS" if align else ("UNALIGN_CORNERS" if half else "LEGACY")
    return _bilinear(x, h, w, mode)


def _slice_by_index(a: _Op) -> Tensor:
    from coremltools.converters.mil.mil.ops.defs._utils import get_squeeze_axes, solve_slice_by_index_slice

    x = a.v("x")
    x = _tensor(x)
    opt = {k: (None if a.v(k) is None else np.asarray(a.v(k) if not isinstance(a.v(k), Tensor) else a.v(k).numpy()))
           for k in ("stride", "begin_mask", "end_mask", "squeeze_mask")}
    begin, end = np.asarray(a.ints("begin")), np.asarray(a.ints("end"))
    slices = solve_slice_by_index_slice(tuple(x.shape), begin, end, opt["stride"], opt["begin_mask"],
                                        opt["end_mask"], opt["squeeze_mask"])
    out = x.numpy()[tuple(slices)]
    axes = get_squeeze_axes(opt["squeeze_mask"], x.ndim)
    if axes:
        out = np.squeeze(out, axis=tuple(axes))
    return torch.from_numpy(np.ascontiguousarray(out))


def _reduce(fn: Callable[..., Tensor]) -> Callable[[_Op], Tensor]:
    def run(a: _Op) -> Tensor:
        x = a.t("x")
        axes = a.ints("axes") if a.has("axes") else list(range(x.ndim))
        return fn(x, dim=axes, keepdim=bool(a.v("keep_dims", False)))
    return run


def _argmax(a: _Op) -> Tensor:
    x = a.t("x")
    return torch.argmax(x, dim=int(a.v("axis", -1)), keepdim=bool(a.v("keep_dims", False)))


def _affine_dequantize(a: _Op) -> Tensor:
    q, zp, scale = a.t("quantized_data").float(), a.t("zero_point").float(), a.t("scale")
    axis = int(a.v("axis")) % q.ndim
    shape = [-1 if i == axis else 1 for i in range(q.ndim)]
    if zp.ndim:
        zp = zp.reshape(shape)
    if scale.ndim:
        scale = scale.reshape(shape)
    return (q - zp) * scale


def _blockwise_shift_scale(a: _Op) -> Tensor:
    data = a.t("data").float()
    scale = a.t("scale")
    offset = a.t("offset").float() if a.has("offset") else torch.zeros_like(scale)

    def expand(p: Tensor) -> Tensor:
        for axis, (n, m) in enumerate(zip(data.shape, p.shape)):
            p = p.repeat_interleave(n // m, dim=axis)
        return p

    return expand(scale) * (data - expand(offset))


def _split(a: _Op) -> list[Tensor]:
    x, axis = a.t("x"), int(a.v("axis"))
    if a.has("split_sizes"):
        return list(torch.split(x, a.ints("split_sizes"), dim=axis))
    return list(torch.chunk(x, int(a.v("num_splits")), dim=axis))


def _binary(fn: Callable[[Tensor, Tensor], Tensor]) -> Callable[[_Op], Tensor]:
    return lambda a: fn(a.t("x"), a.t("y"))


def _unary(fn: Callable[[Tensor], Tensor]) -> Callable[[_Op], Tensor]:
    return lambda a: fn(a.t("x"))


def _cast(a: _Op) -> Tensor:
    x = a.v("x")
    x = x if isinstance(x, Tensor) else _tensor(x)
    return x.to(_DTYPES[str(a.v("dtype"))])


SUPPORTED_OPS: dict[str, Callable[[_Op], Any]] = {
    "cast": _cast,
    "conv": _conv,
    "batch_norm": lambda a: (a.t("x") - _c(a.t("mean"), a.t("x"))) / torch.sqrt(_c(a.t("variance"), a.t("x")) + float(a.v("epsilon", 1e-5)))
    * (_c(a.t("gamma"), a.t("x")) if a.has("gamma") else 1.0) + (_c(a.t("beta"), a.t("x")) if a.has("beta") else 0.0),
    "relu": _unary(torch.relu),
    "relu6": _unary(lambda x: x.clamp(0, 6)),
    "sigmoid": _unary(torch.sigmoid),
    "tanh": _unary(torch.tanh),
    "clip": lambda a: torch.clamp(a.t("x"), float(a.v("alpha")), float(a.v("beta"))),
    "abs": _unary(torch.abs),
    "floor": _unary(torch.floor),
    "exp": _unary(torch.exp),
    "sqrt": _unary(torch.sqrt),
    "log": lambda a: torch.log(a.t("x") + float(a.v("epsilon", 1e-45))),
    "rsqrt": lambda a: torch.rsqrt(a.t("x") + float(a.v("epsilon", 1e-12))),
    "inverse": lambda a: 1.0 / (a.t("x") + float(a.v("epsilon", 1e-4))),
    "add": _binary(torch.add),
    "sub": _binary(torch.sub),
    "mul": _binary(torch.mul),
    "real_div": _binary(torch.div),
    "floor_div": _binary(lambda x, y: torch.div(x, y, rounding_mode="floor")),
    "pow": _binary(torch.pow),
    "maximum": _binary(torch.maximum),
    "minimum": _binary(torch.minimum),
    "greater": _binary(torch.gt),
    "greater_equal": _binary(torch.ge),
    "less": _binary(torch.lt),
    "less_equal": _binary(torch.le),
    "equal": _binary(torch.eq),
    "not_equal": _binary(torch.ne),
    "logical_and": _binary(torch.logical_and),
    "logical_or": _binary(torch.logical_or),
    "select": lambda a: torch.where(a.t("cond").bool(), a.t("a"), a.t("b")),
    "fill_like": lambda a: torch.full(tuple(a.t("ref_tensor").shape), float(a.v("value", 0.0))),
    "fill": lambda a: torch.full(tuple(a.ints("shape")), float(a.v("value", 0.0))),
    "reshape": lambda a: a.t("x").reshape(a.ints("shape")),
    "expand_dims": lambda a: _expand_dims(a.t("x"), a.ints("axes")),
    "squeeze": lambda a: a.t("x").squeeze(tuple(a.ints("axes"))) if a.has("axes") else a.t("x").squeeze(),
    "transpose": lambda a: a.t("x").permute(a.ints("perm")),
    "concat": lambda a: torch.cat(_promote(a.ts("values")), dim=int(a.v("axis"))),
    "stack": lambda a: torch.stack(_promote(a.ts("values")), dim=int(a.v("axis"))),
    "tile": lambda a: a.t("x").repeat(a.ints("reps")),
    "slice_by_index": _slice_by_index,
    "split": _split,
    "reduce_sum": _reduce(torch.sum),
    "reduce_mean": _reduce(torch.mean),
    "reduce_max": _reduce(lambda x, dim, keepdim: torch.amax(x, dim=dim, keepdim=keepdim)),
    "reduce_argmax": _argmax,
    "upsample_bilinear": _upsample_bilinear,
    "resize_bilinear": lambda a: _bilinear(a.t("x"), int(a.v("target_size_height", 1)), int(a.v("target_size_width", 1)), str(a.v("sampling_mode", "DEFAULT"))),
    "upsample_nearest_neighbor": lambda a: F.interpolate(a.t("x"), scale_factor=(float(a.v("scale_factor_height", 1)), float(a.v("scale_factor_width", 1))), mode="nearest"),
    "linear": lambda a: F.linear(a.t("x"), a.t("weight"), a.t("bias") if a.has("bias") else None),
    "matmul": lambda a: torch.matmul(a.t("x").mT if a.v("transpose_x", False) else a.t("x"), a.t("y").mT if a.v("transpose_y", False) else a.t("y")),
    "constexpr_affine_dequantize": _affine_dequantize,
    "constexpr_blockwise_shift_scale": _blockwise_shift_scale,
}


def _c(p: Tensor, x: Tensor) -> Tensor:
    """Per-channel parameter (C,) broadcast against (B, C, ...)."""
    return p.view([1, -1] + [1] * (x.ndim - 2))


def _expand_dims(x: Tensor, axes: list[int]) -> Tensor:
    rank = x.ndim + len(axes)
    for ax in sorted(a % rank for a in axes):
        x = x.unsqueeze(ax)
    return x


def _promote(xs: list[Tensor]) -> list[Tensor]:
    if any(x.is_floating_point() for x in xs):
        return [x.float() for x in xs]
    return xs


def load_program(package: str | Path) -> Any:
    """The pymil Program of a saved .mlpackage (weights read from its weights folder)."""
    ct = require("coremltools", "the CoreML numeric check")
    from coremltools.converters.mil.frontend.milproto.load import load

    p = Path(package)
    if not p.exists():
        raise FileNotFoundError(f"CoreML model not found: {p}")
    model = ct.models.MLModel(str(p), skip_model_load=True)
    spec = model.get_spec()
    return load(spec, spec.specificationVersion, model.weights_dir)


def op_types(program: Any) -> list[str]:
    return sorted({op.op_type for op in program.functions["main"].operations})


def run_program(program: Any, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Execute the program's main function on numpy inputs; returns its outputs as float32/int arrays.

    Raises UnsupportedMILOp (before executing anything) if the program uses an op type
    outside SUPPORTED_OPS, or ValueError for a missing or mis-shaped input.
    """
    from coremltools.converters.mil.mil import types

    fn = program.functions["main"]
    unknown = sorted({op.op_type for op in fn.operations if op.op_type != "const"} - set(SUPPORTED_OPS))
    if unknown:
        raise UnsupportedMILOp(
            f"the Linux MIL checker does not execute op type(s) {', '.join(unknown)}; "
            f"supported: {', '.join(sorted(SUPPORTED_OPS))}"
        )
    env: dict[str, Tensor] = {}
    for name, var in fn.inputs.items():
        if name not in inputs:
            raise ValueError(f"MIL program input {name!r} not given (given: {sorted(inputs)})")
        x = np.asarray(inputs[name])
        if tuple(x.shape) != tuple(var.shape):
            raise ValueError(f"MIL program input {name!r}: expected shape {tuple(var.shape)}, got {x.shape}")
        env[name] = torch.from_numpy(np.ascontiguousarray(x)).to(_DTYPES[types.builtin_to_string(var.dtype)])
    for op in fn.operations:
        if op.op_type == "const":
            continue
        result = SUPPORTED_OPS[op.op_type](_Op(op, env))
        results = result if isinstance(result, (list, tuple)) else [result]
        for out, val in zip(op.outputs, results):
            dtype = _DTYPES[types.builtin_to_string(out.dtype)]
            env[out.name] = val.to(dtype) if isinstance(val, Tensor) else torch.as_tensor(val, dtype=dtype)
    return {out.name: _to_numpy(env[out.name]) for out in fn.outputs}


def _to_numpy(x: Tensor) -> np.ndarray:
    return x.float().numpy() if x.is_floating_point() else x.numpy()


def run_mlpackage(package: str | Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """load_program + run_program."""
    return run_program(load_program(package), inputs)
