"""JSON-lines output: one JSON object per frame, each line flushed as soon as it is written.

A reader can follow the file while it grows (`tail -f`), and a crash loses at most the line
being written. NaN and infinities (not valid JSON) are written as null; numpy arrays become
nested lists, rounded to `decimals` places.

`frame_record` is the project's per-frame schema:
  frame (int), t (s), held (bool: the fitter repeated its previous pose),
  joints3d_mm (17 x 3, camera frame, global), root_mm (3), reprojection_px,
  local_quaternions_wxyz (17 x 4, optional), joints2d_px (17 x 2, optional, image pixels),
  confidence (17, optional), box [x0, y0, side] (optional, image pixels).
A frame with no fit yet has joints3d_mm = null.
"""
from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import TextIO

import numpy as np

__all__ = ["JsonlWriter", "frame_record", "to_jsonable"]


def to_jsonable(value: object, decimals: int = 3) -> object:
    """Plain JSON types from numpy arrays / scalars / dataclass-free containers; NaN -> None."""
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist(), decimals)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return round(v, decimals) if math.isfinite(v) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, decimals) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, decimals) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    raise ValueError(f"to_jsonable: cannot write a {type(value).__name__} as JSON")


def frame_record(frame: int, t: float, result=None, joints2d: np.ndarray | None = None,
                 confidence: np.ndarray | None = None, box=None, rotations: bool = True) -> dict:
    """One frame in the schema of the module docstring (`result`: FitResult or None)."""
    rec: dict = {"frame": int(frame), "t": float(t), "held": bool(result is None or result.held)}
    if result is None:
        rec["joints3d_mm"] = None
    else:
        rec["joints3d_mm"] = result.joints
        rec["root_mm"] = result.root_position
        rec["reprojection_px"] = result.reprojection_error_px
        if rotations:
            rec["local_quaternions_wxyz"] = result.local_quaternions()
    if joints2d is not None:
        rec["joints2d_px"] = np.asarray(joints2d)
    if confidence is not None:
        rec["confidence"] = np.asarray(confidence)
    if box is not None:
        rec["box"] = box.as_array() if hasattr(box, "as_array") else np.asarray(box)
    return rec


class JsonlWriter:
    """Append JSON objects to a file (or an open text stream), one per line, flushed.

    Args:
        target: path (created or truncated) or a writable text stream (not closed by us).
        decimals: rounding of floats.
    """

    def __init__(self, target: str | Path | TextIO, decimals: int = 3) -> None:
        self.decimals = decimals
        self.lines = 0
        if isinstance(target, (str, Path)):
            self._stream: TextIO | None = open(target, "w", encoding="utf-8")
            self._owned = True
        elif isinstance(target, io.TextIOBase) or hasattr(target, "write"):
            self._stream, self._owned = target, False
        else:
            raise ValueError(f"JsonlWriter: expected a path or a text stream, got {type(target).__name__}")

    def write(self, record: dict) -> None:
        if self._stream is None:
            raise ValueError("JsonlWriter: writer is closed")
        if not isinstance(record, dict):
            raise ValueError(f"JsonlWriter.write: expected a dict, got {type(record).__name__}")
        line = json.dumps(to_jsonable(record, self.decimals), allow_nan=False, separators=(",", ":"))
        self._stream.write(line + "\n")
        self._stream.flush()
        self.lines += 1

    def close(self) -> None:
        if self._stream is not None and self._owned:
            self._stream.close()
        self._stream = None

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
