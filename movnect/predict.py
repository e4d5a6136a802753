"""`movnect predict`: run a model over an image or a video and write per-frame JSON.

The output JSON:
  {"model": ..., "input": ..., "joint_names": [...], "parents": [...],
   "units": {"joints2d": "image pixels", "joints3d": "mm, root-relative, camera axes x right y down z forward"},
   "frames": [{"frame": 0, "box": [x0, y0, side], "joints2d": [[u, v] x J],
               "joints3d": [[x, y, z] x J], "confidence": [c x J]}, ...]}
Every frame uses the full-frame box (media.full_frame_box); `movnect demo` is the
tracked, filtered and fitted pipeline.
The output is checked for writability first; the file is written atomically once all frames are
done, or on Ctrl-C (or SIGTERM / SIGHUP, which the CLI turns into the same) with the frames so far.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from movnect import atomic, skeleton
import mobile_export.runtime  # noqa: F401  (registers the .onnx / .tflite runtimes)
from movnect.estimator import load_estimator, predict_frame
from movnect.media import full_frame_box, iter_frames


def _round(a: np.ndarray, digits: int) -> list:
    return np.round(np.asarray(a, dtype=np.float64), digits).tolist()


def predict_file(model_spec: str, input_path: str | Path, json_out: str | Path) -> dict[str, Any]:
    """Predict every frame of `input_path` and write the JSON described in the module docstring.

    Returns a summary dict: {"frames": count, "note": optional message for the user}.
    """
    atomic.check_output_file(json_out, "--json")  # before the work, not after it
    estimator = load_estimator(model_spec)
    doc: dict[str, Any] = {
        "model": str(model_spec),
        "input": str(input_path),
        "joint_names": list(skeleton.JOINT_NAMES),
        "parents": list(skeleton.PARENTS),
        "units": {
            "joints2d": "image pixels (pixel centres at integers)",
            "joints3d": "mm, root-relative (pelvis = 0), camera axes: x right, y down, z forward",
            "box": "square crop [x0, y0, side] in image pixels",
        },
        "frames": [],
    }
    box = None
    interrupted = False
    try:
        for i, frame in enumerate(iter_frames(input_path)):
            if box is None:
                box = full_frame_box(*frame.shape[:2])
            out = predict_frame(estimator, frame, box)
            doc["frames"].append({
                "frame": i,
                "box": _round(out["box"], 2),
                "joints2d": _round(out["joints2d"], 2),
                "joints3d": _round(out["joints3d"], 1),
                "confidence": _round(out["confidence"], 4),
            })
    except KeyboardInterrupt:
        interrupted = True
    atomic.write_json(json_out, doc)
    if interrupted:
        raise KeyboardInterrupt
    return {"frames": len(doc["frames"]), "note": getattr(estimator, "note", "")}

