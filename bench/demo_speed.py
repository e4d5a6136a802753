"""Frames per second of the demo pipeline on 640x480 video, with the per-stage split.

    python bench/demo_speed.py [--model default] [--frames 250] [--threads 2] [--no-outputs]

Renders the sample clip (640x480, 25 fps) once into --work, then runs the whole demo on it
(capture, crop, model, decode, 1-Euro filter, skeleton fit, and the outputs: overlay video,
BVH, JSON lines) and prints ONE JSON object: median milliseconds per stage, fps from the median
total, and the machine. `model+decode` is one stage: the default model decodes in its graph.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from movnect.demo import DemoOptions, load_demo_estimator, run_demo  # noqa: E402
from movnect.sample_clip import sample_intrinsics, write_sample_clip  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--work", default="bench_out/demo_speed")
    ap.add_argument("--frames", type=int, default=250)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-outputs", action="store_true", help="measure without writing any output")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    clip = work / "sample.mp4"
    meta_path = Path(str(clip) + ".json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else write_sample_clip(clip)
    estimator = load_demo_estimator(args.model)
    options = DemoOptions(
        out_dir=None if args.no_outputs else work / "out",
        bvh=None if args.no_outputs else work / "out" / "motion.bvh",
        jsonl=None if args.no_outputs else work / "out" / "poses.jsonl",
        max_frames=args.frames,
    )
    run_demo(estimator, str(clip), DemoOptions(max_frames=20))  # warm-up (first-call costs)
    summary = run_demo(estimator, str(clip), options, sample_intrinsics(meta))
    med = summary["median_ms"]
    out = {
        "benchmark": "demo_speed",
        "input": f"{meta['width']}x{meta['height']} video (sample clip)",
        "model": summary["model"],
        "backend": type(estimator).__name__,
        "note": getattr(estimator, "note", ""),
        "frames": summary["frames"],
        "tracked_frames": summary["tracked_frames"],
        "median_ms": med,
        "fps_median": round(1000.0 / med["total"], 1),
        "outputs_written": not args.no_outputs,
        "machine": {"cpu_count": os.cpu_count(), "threads": args.threads, "python": platform.python_version(),
                    "torch": torch.__version__, "numpy": np.__version__, "platform": platform.platform()},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
