"""Model size and compute: parameter counts and multiply-accumulates (MACs) of one forward pass.

What `count_macs` counts, for a batch of ONE image:
  * nn.Conv2d (dense, grouped and depthwise):  H_out * W_out * C_out * (C_in / groups) * kh * kw
  * nn.ConvTranspose2d:                        H_in * W_in * C_in * (C_out / groups) * kh * kw
    (every input pixel is multiplied into a kh x kw x C_out/groups patch)
  * nn.Linear:                                 rows * in_features * out_features
    (rows = number of input vectors, e.g. tokens)
Only those multiply-accumulates. Not counted: biases, normalisation, activations, pooling,
interpolation, additions and concatenations (together a few percent of a CNN's arithmetic).
One MAC is one multiply plus one add; FLOPs are about 2 x MACs.
"""
from __future__ import annotations

from dataclasses import asdict, is_dataclass
from typing import Any

import torch
from torch import Tensor, nn

from movnect.models import count_parameters


def _square(input_size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(input_size, int):
        h = w = input_size
    else:
        h, w = input_size
    if h < 1 or w < 1:
        raise ValueError(f"input size must be positive, got {input_size}")
    return int(h), int(w)


def _layer_macs(module: nn.Module, inp: Tensor, out: Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        per_sample = out.shape[1:].numel()  # C_out * H_out * W_out
        return per_sample * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.ConvTranspose2d):
        kh, kw = module.kernel_size
        per_sample = inp.shape[1:].numel()  # C_in * H_in * W_in
        return per_sample * (module.out_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        rows = inp.numel() // inp.shape[0] // module.in_features
        return rows * module.in_features * module.out_features
    return 0


def _profile(model: nn.Module, input_size: int | tuple[int, int]) -> tuple[int, Any]:
    """One eval-mode, no-grad forward of a (1, 3, H, W) zero image: (MACs, model output).
    Restores the model's train/eval mode."""
    h, w = _square(input_size)
    total = 0

    def hook(module: nn.Module, args: tuple[Tensor, ...], out: Tensor) -> None:
        nonlocal total
        total += _layer_macs(module, args[0], out)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    was_training = model.training
    try:
        model.eval()
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        with torch.no_grad():
            out = model(torch.zeros(1, 3, h, w, device=device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return total, out


def count_macs(model: nn.Module, input_size: int | tuple[int, int]) -> int:
    """Multiply-accumulates of conv / transposed-conv / linear layers (see the module docstring)
    for one (1, 3, H, W) image; `input_size` is S (square) or (H, W) in pixels."""
    return _profile(model, input_size)[0]


def model_summary(model: nn.Module, cfg: Any, input_size: int | tuple[int, int]) -> dict[str, Any]:
    """JSON-ready facts about a model: name, config, parameters, MACs at `input_size`,
    input shape and the shape of each output (for PoseOutput: maps, bones, feature)."""
    h, w = _square(input_size)
    macs, out = _profile(model, (h, w))
    if hasattr(out, "_asdict"):
        outputs = {k: list(v.shape) for k, v in out._asdict().items()}
    elif isinstance(out, Tensor):
        outputs = {"output": list(out.shape)}
    else:
        outputs = {f"output_{i}": list(t.shape) for i, t in enumerate(out)}
    config = asdict(cfg) if is_dataclass(cfg) else dict(cfg)
    return {
        "model": config.get("name", type(model).__name__),
        "config": config,
        "parameters": count_parameters(model),
        "macs": macs,
        "input_shape": [1, 3, h, w],
        "outputs": outputs,
    }
