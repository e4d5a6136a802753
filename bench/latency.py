"""Latency of the networks and of the whole per-frame pipeline on this CPU, plus export sizes.

For the MoVNect student (width 1.0) and the VNect teacher (ResNet-50 and ResNet-18 trunks) at
256 x 256: parameters, multiply-accumulates (movnect.models.profile), and milliseconds per
frame (median, p95; batch 1, 2 threads) in
  * PyTorch eager (the float model on normalised input, maps out),
  * ONNX Runtime (the exported .onnx: uint8 NCHW in, normalisation in the graph, maps out),
  * TFLite through ai-edge-litert with XNNPACK (uint8 NHWC in, maps out); for the student also
    fp16, int8 weight-only and full-integer int8 (calibrated on drawn frames).
The student's export file sizes are listed per format and precision (CoreML too, unless
--no-coreml). Timings include feeding inputs and reading outputs, not the Python decoder.

Pipeline (student, per frame of a 640 x 480 video; stages timed separately): crop
(camera.crop_image) -> model -> decode (Codec.decode) -> 1-Euro on 2D and 3D -> skeleton fit ->
box tracker, for each runtime, and once more with TFLite decoding inside the graph
(`tflite_decode`: its decode stage is only the crop -> image conversion). Weights are random
(initialised, not trained) and the frames are drawn stick figures: latency does not depend on
the weights, but random weights give near-zero confidences, which would make the fitter and
the tracker skip their work; they are given confidence 1 so they do their full per-frame work.

Prints ONE JSON object.
    python bench/latency.py [--runs 50] [--threads 2] [--quick]   (--quick: student only)
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any, Callable


import numpy as np
import torch

from movnect.codec import Codec
from movnect.models import ModelConfig, build_model, count_parameters
from mobile_export.export import ExportOptions, export_model
from mobile_export.frames import stick_figure_frames
from mobile_export.runtime import crops_to_input, open_runner, torch_single_thread
from mobile_export.wrapper import ExportSpec

SIZE = 256
TARGET_MS = 10.0


def timed(fn: Callable[[], Any], runs: int, warmup: int = 5) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": round(float(np.median(ts)), 3), "p95_ms": round(float(np.percentile(ts, 95)), 3), "runs": runs}


def machine() -> dict[str, Any]:
    import onnxruntime

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib.metadata import version

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__, "ai_edge_litert": version("ai-edge-litert"),
            "litert_torch": version("litert-torch")}


def bench_model(name: str, cfg: ModelConfig, args: argparse.Namespace, tmp: Path, student: bool) -> dict[str, Any]:
    from movnect.models.profile import count_macs

    torch.manual_seed(0)
    model = build_model(cfg).eval()
    codec = Codec()
    out: dict[str, Any] = {"config": {"name": cfg.name, "width": cfg.width, "depth": cfg.depth},
                           "parameters": count_parameters(model), "macs": count_macs(model, SIZE)}
    crops = stick_figure_frames(SIZE, 1, seed=0)[0]
    x = codec.normalize(torch.from_numpy(crops).permute(0, 3, 1, 2))
    with torch.no_grad():
        out["torch_eager_ms"] = timed(lambda: model(x), max(5, args.runs // (1 if student else 3)))
    runs = args.runs if student else max(5, args.runs // 3)
    sizes: dict[str, int] = {}
    variants = [("onnx", ExportOptions("onnx")), ("tflite", ExportOptions("tflite"))]
    if student and not args.no_coreml:
        variants += [("coreml_fp16", ExportOptions("coreml")), ("coreml_int8", ExportOptions("coreml", precision="int8"))]
    for key, opts in variants:
        t0 = time.perf_counter()
        res = export_model(model, cfg, codec, tmp / f"{name}_{key}", opts)
        out[f"{key}_export_s"] = round(time.perf_counter() - t0, 1)
        sizes[key] = res.size_bytes
        if key.startswith("coreml"):
            continue
        runner = open_runner(res.path, args.threads)
        inp = crops_to_input(crops, opts.spec())
        out[f"{key}_ms"] = timed(lambda runner=runner, inp=inp: runner(inp), runs)
        if key == "tflite" and student:
            # post-training variants of the same float flatbuffer (quantization only, no reconversion)
            from mobile_export.tflite import quantize_tflite

            calib = stick_figure_frames(SIZE, 16, seed=1)[0]
            for qkey, precision, mode in (("tflite_fp16", "fp16", "weight"), ("tflite_int8_weight", "int8", "weight"),
                                          ("tflite_int8_full", "int8", "full")):
                qpath = tmp / f"{name}_{qkey}.tflite"
                qpath.write_bytes(quantize_tflite(res.path.read_bytes(), precision, mode, calibration=calib))
                sizes[qkey] = qpath.stat().st_size
                qrun = open_runner(qpath, args.threads)
                out[f"{qkey}_ms"] = timed(lambda qrun=qrun, inp=inp: qrun(inp), runs)
    out["file_bytes"] = sizes
    return out


def bench_pipeline(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Per-frame pipeline with the student on each runtime (see the module docstring)."""
    try:
        from postprocess.one_euro import VNECT_2D, VNECT_3D, OneEuroFilter, vnect_scale_2d, vnect_scale_3d
        from postprocess.skeleton_fit import SkeletonFitter
        from postprocess.kinematics import Skeleton
        from postprocess.tracker import BoxTracker
    except ImportError as exc:
        return {"available": False, "reason": f"post-processing not importable: {exc}"}
    from movnect.camera import CropBox, Intrinsics, crop_image, crop_to_image

    torch.manual_seed(0)
    cfg = ModelConfig(name="movnect", width=1.0)
    model = build_model(cfg).eval()
    codec = Codec()
    # runtime -> (crop input array -> NCHW maps, the input spec it takes)
    runners: dict[str, tuple[Callable[[np.ndarray], np.ndarray], ExportSpec]] = {}
    for key, opts in (("onnx", ExportOptions("onnx")), ("tflite", ExportOptions("tflite")),
                      ("tflite_decode", ExportOptions("tflite", decode=True))):
        res = export_model(model, cfg, codec, tmp / f"pipe_{key}", opts)
        run = open_runner(res.path, args.threads)
        if opts.decode:
            runners[key] = (run, opts.spec())
            continue
        to_nchw = (0, 3, 1, 2) if opts.spec().layout == "nhwc" else (0, 1, 2, 3)
        runners[key] = ((lambda r, perm: lambda x: r(x)["maps"].transpose(perm))(run, to_nchw), opts.spec())

    def torch_run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(codec.normalize(torch.from_numpy(x).permute(0, 3, 1, 2))).maps.numpy()

    runners["torch_eager"] = (torch_run, ExportSpec(layout="nhwc", input_dtype="uint8"))
    lengths = (133, 454, 446, 133, 454, 446, 234, 257, 117, 115, 151, 279, 249, 151, 279, 249)
    cam = Intrinsics((600.0, 600.0), (319.5, 239.5), width=640, height=480)
    video = np.zeros((8, 480, 640, 3), np.uint8)
    figures = stick_figure_frames(480, 8, seed=3)[0]
    video[:, :, 80:560] = figures
    results: dict[str, Any] = {"available": True, "frame": [480, 640]}
    ones = np.ones(codec.num_joints)
    for key, (run, spec) in runners.items():
        # as mobile_export.runtime does: one torch thread for the decoder next to another runtime
        decode_threads = contextlib.nullcontext if key == "torch_eager" else torch_single_thread
        stages = {s: [] for s in ("crop", "model", "decode", "filter", "fit", "track", "total")}
        f2, f3 = OneEuroFilter(VNECT_2D), OneEuroFilter(VNECT_3D)
        fitter = SkeletonFitter(Skeleton(lengths), cam)
        tracker = BoxTracker(CropBox.around((319.5, 239.5), 480.0))
        n = args.runs + 5
        for i in range(n):
            t = i / 30.0
            frame = video[i % len(video)]
            marks = [time.perf_counter()]
            crop = crop_image(frame, tracker.box, SIZE)
            marks.append(time.perf_counter())
            out = run(crops_to_input(crop[None], spec))  # NCHW maps, or a dict of joints
            marks.append(time.perf_counter())
            if spec.decode:
                j2c, j3 = out["joints2d"][0], out["joints3d"][0]
            else:
                with decode_threads():
                    dec = codec.decode(torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32)))
                j2c, j3 = dec.joints2d[0].numpy(), dec.joints3d[0].numpy()
            j2 = crop_to_image(j2c.astype(np.float64), tracker.box, SIZE)
            j3 = j3.astype(np.float64)
            marks.append(time.perf_counter())
            j2f = f2(j2, t, scale=vnect_scale_2d(tracker.box.side))
            j3f = f3(j3, t, scale=vnect_scale_3d())
            marks.append(time.perf_counter())
            fitter.fit(j2f, j3f, ones, t)  # confidence 1: see the module docstring
            marks.append(time.perf_counter())
            tracker.update(j2, ones, t)
            marks.append(time.perf_counter())
            if i >= 5:
                for s, a, b in zip(list(stages)[:-1], marks, marks[1:]):
                    stages[s].append((b - a) * 1e3)
                stages["total"].append((marks[-1] - marks[0]) * 1e3)
        results[key] = {s: {"median_ms": round(float(np.median(v)), 3), "p95_ms": round(float(np.percentile(v, 95)), 3)}
                        for s, v in stages.items()}
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=50, help="timed runs per measurement (teachers: a third)")
    p.add_argument("--threads", type=int, default=2, help="threads for every runtime")
    p.add_argument("--quick", action="store_true", help="student only (no teachers)")
    p.add_argument("--no-coreml", action="store_true", help="skip the CoreML size measurements")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    import litert_torch

    litert_torch.config.show_progress = False
    doc: dict[str, Any] = {"benchmark": "latency", "input": [1, SIZE, SIZE, 3], "threads": args.threads,
                           "machine": machine(), "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        models = [("student_movnect_w1.0", ModelConfig(name="movnect", width=1.0), True)]
        if not args.quick:
            models += [("teacher_vnect_r50", ModelConfig(name="vnect", depth=50), False),
                       ("teacher_vnect_r18", ModelConfig(name="vnect", depth=18), False)]
        for name, cfg, student in models:
            doc["models"][name] = bench_model(name, cfg, args, tmp_path, student)
        doc["pipeline_student"] = bench_pipeline(args, tmp_path)
    s = doc["models"]["student_movnect_w1.0"]
    best = min(s["onnx_ms"]["median_ms"], s["tflite_ms"]["median_ms"])
    doc["student_target"] = {"target_ms": TARGET_MS, "best_runtime_median_ms": best, "met": best < TARGET_MS,
                             "tflite_vs_torch_speedup": round(s["torch_eager_ms"]["median_ms"] / s["tflite_ms"]["median_ms"], 2),
                             "onnx_vs_torch_speedup": round(s["torch_eager_ms"]["median_ms"] / s["onnx_ms"]["median_ms"], 2)}
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
