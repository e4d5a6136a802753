"""Self-describing checkpoints, written atomically.

A checkpoint is one `torch.save`d dict:
  format          "movnect-checkpoint/1"
  model_config    dict of ModelConfig       (rebuilds the network)
  codec           dict of CodecConfig       (decodes its maps)
  model           state_dict
  extra           free-form dict: optimizer, scheduler, epoch/step, RNG states, run config...
  version, git    package version and git revision that wrote it
A model rebuilds from the file alone (`load_model`). Files are written to a temporary name in
the same folder and renamed, so a crash never leaves a half-written checkpoint.

Loading never runs code from the file: `torch.load(weights_only=True)` accepts tensors and plain
Python data only, plus the allow-list `SAFE_GLOBALS` (plain numeric numpy arrays, which
checkpoints written before the RNG states were stored as tensors hold). Anything else (a pickled
callable, an object-dtype array) is refused with a CheckpointError naming what was found.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from movnect import __version__, atomic
from movnect.codec import Codec
from movnect.config import ConfigError, from_dict
from movnect.models import ModelConfig, build_model

FORMAT = "movnect-checkpoint/1"


def _numpy_reconstruct():  # numpy 2 moved numpy.core to numpy._core
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # pragma: no cover - numpy 1
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    return _reconstruct


# What `torch.load(weights_only=True)` may build beyond tensors and plain data: uint32 numpy
# arrays (the numpy RNG key of training checkpoints written before it was stored as a tensor). Object arrays stay refused
# (numpy.dtypes.ObjectDType is not listed), so no numpy path leads to arbitrary objects.
SAFE_GLOBALS: list[Any] = [
    (_numpy_reconstruct(), "numpy.core.multiarray._reconstruct"),   # written by numpy 1
    (_numpy_reconstruct(), "numpy._core.multiarray._reconstruct"),  # written by numpy 2
    np.ndarray, np.dtype,
    *([np.dtypes.UInt32DType] if hasattr(np, "dtypes") else []),             # the MT19937 key's dtype
]


class CheckpointError(ValueError):
    """A checkpoint file that is missing, unreadable or does not match what is asked of it."""


def git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent,
            capture_output=True, text=True, timeout=5,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """torch.save through movnect.atomic: temporary file beside `path`, fsync, rename."""
    with atomic.atomic_open(path, "wb") as f:
        torch.save(obj, f)


def save_checkpoint(
    path: str | Path, model: nn.Module, model_config: ModelConfig, codec: Codec,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write a self-describing checkpoint atomically (see module docstring)."""
    state = {k: v.detach().cpu() for k, v in _unwrap(model).state_dict().items()}
    atomic_torch_save(
        {
            "format": FORMAT,
            "model_config": asdict(model_config),
            "codec": codec.to_dict(),
            "model": state,
            "extra": extra or {},
            "version": __version__,
            "git": git_revision(),
        },
        path,
    )


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load the raw checkpoint dict with one-line errors for missing or corrupt files."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint not found: {p}")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt files
        raise CheckpointError(_load_error(p, exc)) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{p} is not a movnect checkpoint (expected format {FORMAT})")
    return ckpt


def _load_error(path: Path, exc: Exception) -> str:
    """One line for a failed load; refused objects are named (torch's message is a paragraph)."""
    text = str(exc)
    found = (re.search(r"unsupported GLOBAL ([\w.]+)", text) or re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
             or re.search(r"but got <class '([\w.]+)'>", text))
    if found:
        return (f"checkpoint {path} is refused: it holds {found.group(1)}, which loading would have to execute "
                "(only tensors and plain data are loaded; was it made by movnect?)")
    detail = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", text)
    first = detail.group(1) if detail else (text.strip().splitlines() or [""])[0]
    return f"checkpoint {path} is unreadable ({type(exc).__name__}: {first})"


def load_model(path: str | Path) -> tuple[nn.Module, ModelConfig, Codec, dict[str, Any]]:
    """Rebuild (model in eval mode, its ModelConfig, its Codec, the raw checkpoint dict)."""
    ckpt = read_checkpoint(path)
    try:
        cfg = from_dict(ModelConfig, ckpt["model_config"])
        codec = Codec.from_dict(ckpt["codec"])
    except (ConfigError, KeyError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {path}: bad config ({exc})") from None
    model = build_model(cfg)
    load_state(model, ckpt["model"], str(path))
    model.eval()
    return model, cfg, codec, ckpt


def load_state(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """load_state_dict with a one-line error that names the first mismatches."""
    own = _unwrap(model).state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shape = [k for k in own if k in state and own[k].shape != state[k].shape]
    if missing or unexpected or shape:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if shape:
            k = shape[0]
            parts.append(f"{len(shape)} of other shape (e.g. {k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)})")
        raise CheckpointError(f"{source}: weights do not match the model config: " + "; ".join(parts))
    _unwrap(model).load_state_dict(state)


def _unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside DistributedDataParallel / torch.compile wrappers."""
    while hasattr(model, "module") and isinstance(model.module, nn.Module):
        model = model.module
    return getattr(model, "_orig_mod", model)


def average_checkpoints(paths: list[str | Path], weights: list[float] | None = None) -> dict[str, Any]:
    """A weight-space average ("model soup", Wortsman et al. 2022) of checkpoints of one
    architecture and codec, e.g. fine-tunes that share a parent: every floating-point tensor
    (weights and BatchNorm running statistics) is the weighted mean, integer buffers
    (num_batches_tracked) come from the first file. Returns a checkpoint dict (no training
    state) whose `extra["average_of"]` lists the files and their normalised weights.

    Raises CheckpointError when the files disagree on model config, codec or tensor names and
    shapes, or the weights are not positive.
    """
    if len(paths) < 2:
        raise CheckpointError(f"averaging needs at least two checkpoints, got {len(paths)}")
    w = [1.0] * len(paths) if weights is None else [float(x) for x in weights]
    if len(w) != len(paths) or not all(x > 0 for x in w):
        raise CheckpointError(f"need one positive weight per checkpoint, got {weights} for {len(paths)} files")
    total = sum(w)
    w = [x / total for x in w]
    cks = [read_checkpoint(p) for p in paths]
    first = cks[0]
    for p, c in zip(paths[1:], cks[1:]):
        for key in ("model_config", "codec"):
            if c[key] != first[key]:
                raise CheckpointError(f"{p}: its {key} differs from {paths[0]}'s; only one architecture can be averaged")
        if c["model"].keys() != first["model"].keys() or any(
                c["model"][k].shape != v.shape for k, v in first["model"].items()):
            raise CheckpointError(f"{p}: its tensors differ in names or shapes from {paths[0]}'s")
    state: dict[str, torch.Tensor] = {}
    for k, v in first["model"].items():
        if v.is_floating_point():
            state[k] = sum(wi * c["model"][k].double() for wi, c in zip(w, cks)).to(v.dtype)
        else:
            state[k] = v.clone()
    return {"format": FORMAT, "model_config": first["model_config"], "codec": first["codec"], "model": state,
            "extra": {"average_of": [_part(p, c, wi) for p, c, wi in zip(paths, cks, w)]},
            "version": __version__, "git": git_revision()}


def _part(path: str | Path, ckpt: dict[str, Any], weight: float) -> dict[str, Any]:
    """Provenance of one averaged checkpoint: its file, weight, git, step and training data."""
    extra = ckpt.get("extra", {})
    step = extra.get("position", {}).get("step", extra.get("step"))
    data = extra.get("run_config", {}).get("data", extra.get("data", {})).get("h36m")
    out = {"path": str(path), "weight": round(weight, 6), "git": ckpt.get("git", "unknown"), "step": step, "data": data}
    if "source_checkpoint" in extra:  # an embedded weights-only file names where it came from
        out["source_checkpoint"] = extra["source_checkpoint"]
    return out
