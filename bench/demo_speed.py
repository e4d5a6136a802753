"""Frames per second of the demo pipeline on 640x480 video, with the per-stage split.

    python bench/demo_speed.py [--model default] [--frames 250] [--threads 2] [--no-outputs]
        [--source sample|sports2d] [--width 640] [--detector auto|blazepose|off]

Renders the sample clip (640x480, 25 fps) once into --work, then runs the whole demo on it
(capture, crop, model, decode, 1-Euro filter, skeleton fit, and the outputs: overlay video,
BVH, JSON lines) and prints ONE JSON object: median milliseconds per stage, fps from the median
total, and the machine. `model+decode` is one stage: the default model decodes in its graph.
`--source sports2d` uses Sports2D's real outdoor clip (two people; `movnect fetch-assets
footage`) resized to `--width` (640 -> 640 x 360; 1768 = its 1768 x 994 original), where the
BlazePose person detector runs (`detect`: acquisition and periodic checks, median over the
frames it ran on).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path


import numpy as np
import torch

from movnect.demo import DemoOptions, load_demo_estimator, run_demo
from movnect.sample_clip import sample_intrinsics, write_sample_clip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--work", default="bench_out/demo_speed")
    ap.add_argument("--frames", type=int, default=250)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-outputs", action="store_true", help="measure without writing any output")
    ap.add_argument("--source", default="sample", choices=("sample", "sports2d"))
    ap.add_argument("--width", type=int, default=640, help="frame width for --source sports2d")
    ap.add_argument("--detector", default="auto", choices=("auto", "blazepose", "off"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    if args.source == "sample":
        clip = work / "sample.mp4"
        meta_path = Path(str(clip) + ".json")
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else write_sample_clip(clip)
        intrinsics = sample_intrinsics(meta)
        detector = "off" if args.detector == "auto" else args.detector  # stick figures: not people
        label = f"{meta['width']}x{meta['height']} video (sample clip)"
    else:
        clip, size = resized_sports2d(work, args.width)
        intrinsics, detector = None, args.detector
        label = f"{size[0]}x{size[1]} video (Sports2D demo, real footage)"
    estimator = load_demo_estimator(args.model)
    options = DemoOptions(detector=detector,
        out_dir=None if args.no_outputs else work / "out",
        bvh=None if args.no_outputs else work / "out" / "motion.bvh",
        jsonl=None if args.no_outputs else work / "out" / "poses.jsonl",
        max_frames=args.frames,
    )
    run_demo(estimator, str(clip), DemoOptions(max_frames=20, detector=detector))  # warm-up
    summary = run_demo(estimator, str(clip), options, intrinsics)
    med = summary["median_ms"]
    out = {
        "benchmark": "demo_speed",
        "input": label,
        "detector": summary["detector"],
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


def resized_sports2d(work: Path, width: int) -> tuple[Path, tuple[int, int]]:
    """Sports2D's demo clip resized to `width` (kept aspect), written once into work."""
    import cv2

    from movnect import assets, atomic

    src = cv2.VideoCapture(str(assets.asset_path("sports2d_demo")))
    fps = src.get(cv2.CAP_PROP_FPS) or 30.0
    out_path = work / f"sports2d_{width}.mp4"
    writer, size = None, None
    while True:
        ok, bgr = src.read()
        if not ok:
            break
        h, w = bgr.shape[:2]
        size = (width, int(round(h * width / w / 2)) * 2)
        if out_path.is_file():
            break
        if writer is None:
            work.mkdir(parents=True, exist_ok=True)
            writer = cv2.VideoWriter(str(out_path) + ".part.mp4", cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        writer.write(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA))
    src.release()
    if writer is not None:
        writer.release()
        atomic.commit(str(out_path) + ".part.mp4", out_path)  # fsync, mode, rename
    return out_path, size


if __name__ == "__main__":
    main()
