"""What exporting costs in accuracy: one checkpoint, every export, scored on the same rows.

Exports the checkpoint (default: the embedded default model, movnect/resources/default_student.pt)
to TFLite fp32, fp16 weights, int8 weight-only and int8 full-integer, to ONNX fp32 and, when
onnxruntime's quantizer is installed, ONNX int8 (static QDQ, this benchmark's own recipe: not a
`movnect export` option). Full-integer models are calibrated on crops of the TRAINING subjects
(--train-subjects), never on the rows they are scored on. Every export keeps the maps output (no
in-graph decoding), so all variants share the Python decoder and the flip test.

Each variant, the PyTorch checkpoint included, is scored by `movnect eval`'s code path
(movnect.evaluate.evaluate on the PoseEstimator that movnect.estimator.load_estimator returns for
the file) on the same rows: the test subjects (default S9, S11) of a rendered Anny file (synthetic
people: not real footage, not Human3.6M), at most --max-rows rows evenly spread over them.

Per variant: MPJPE, PA-MPJPE, N-MPJPE (mm), mean 2D joint error (px of the model's input crop),
file size, median / p90 ms per crop (batch 1, --timing-crops crops, after warm-up: the model call
with the Python decoder, not the JPEG decoding) and the differences to the PyTorch checkpoint.
The model is identified by its path, SHA-256, the git commit that last changed the file and the
revision recorded inside it, so a table can be matched to the model it was made with.

Prints ONE JSON object and writes it (and a Markdown table) to --out (bench_out/ by default).
    python bench/export_accuracy.py [--checkpoint default] [--data data/anny/anny_32k.h5]
        [--max-rows 1000] [--flip-test] [--only pytorch,tflite_fp32,...] [--keep DIR]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import mobile_export.runtime  # noqa: F401  (registers the .onnx / .tflite runtimes, as `movnect eval` does)
from mobile_export.export import ExportOptions, ExportResult, export_model, load_checkpoint_for_export
from mobile_export.runtime import crops_to_input
from movnect import atomic
from movnect.checkpoint import read_checkpoint
from movnect.codec import Codec
from movnect.data.dataset import select_rows
from movnect.estimator import PoseEstimator, load_estimator, resolve_model_spec
from movnect.evaluate import Protocol, StoredCrops, evaluate, load_ground_truth

TFLITE = {
    "tflite_fp32": ExportOptions("tflite", precision="fp32"),
    "tflite_fp16": ExportOptions("tflite", precision="fp16"),
    "tflite_int8_weight": ExportOptions("tflite", precision="int8", int8_mode="weight"),
    "tflite_int8_full": ExportOptions("tflite", precision="int8", int8_mode="full"),
    "onnx_fp32": ExportOptions("onnx", precision="fp32"),
}
VARIANTS = ("pytorch", "tflite_fp32", "onnx_fp32", "tflite_fp16", "tflite_int8_weight", "tflite_int8_full", "onnx_int8")


def read_crops(data: Path, rows: np.ndarray, codec: Codec) -> np.ndarray:
    """(len(rows), S, S, 3) uint8 RGB stored crops at the model's input side, as eval reads them."""
    crops = StoredCrops(data, rows, codec)
    try:
        return np.stack([crops[i] for i in range(len(crops))])
    finally:
        crops.close()


def calibration_crops(data: Path, subjects: tuple[str, ...], count: int, codec: Codec) -> tuple[np.ndarray, np.ndarray]:
    """`count` crops of the training subjects, evenly spread over their rows: (crops, rows)."""
    rows = select_rows(data, subjects)
    rows = rows[np.unique(np.linspace(0, len(rows) - 1, min(count, len(rows))).round().astype(np.int64))]
    return read_crops(data, rows, codec), rows


def onnx_int8(fp32: Path, out: Path, calibration: np.ndarray, spec: Any) -> tuple[Path, int]:
    """Static int8 QDQ quantization of an fp32 .onnx export by onnxruntime (convolutions, per-channel
    int8 weights, uint8 activations) calibrated on `calibration` crops; the movnect metadata is
    carried over with precision int8. Returns (path, bytes)."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            crop = next(self.items, None)
            return None if crop is None else {"image": crops_to_input(crop[None], spec)}

    quantize_static(str(fp32), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"])
    model = onnx.load(str(out))
    source = {p.key: p.value for p in onnx.load(str(fp32), load_external_data=False).metadata_props}
    meta = json.loads(source["movnect"])
    meta["export"].update(precision="int8", int8_mode="full (onnxruntime static QDQ, convolutions)")
    source["movnect"] = json.dumps(meta)
    onnx.helper.set_model_props(model, source)
    onnx.save(model, str(out))
    return out, out.stat().st_size


def timing(estimator: PoseEstimator, crops: np.ndarray, warmup: int = 5) -> dict[str, float]:
    """ms per crop for batch-1 calls: median and p90 over `crops` (after `warmup` calls)."""
    for crop in crops[:warmup]:
        estimator(crop[None])
    ts = []
    for crop in crops:
        t0 = time.perf_counter()
        estimator(crop[None])
        ts.append((time.perf_counter() - t0) * 1e3)
    return {"ms_per_crop_median": float(np.median(ts)), "ms_per_crop_p90": float(np.percentile(ts, 90))}


def model_identity(spec: str) -> dict[str, Any]:
    """Path, SHA-256, the git commit that last changed the file, the revision it records."""
    path = resolve_model_spec(spec).resolve()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    def git(*args: str) -> str:
        try:
            out = subprocess.run(["git", *args], cwd=path.parent, capture_output=True, text=True, timeout=10)
            return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    ckpt = read_checkpoint(path)
    return {"spec": spec, "path": str(path), "bytes": path.stat().st_size, "sha256": digest,
            "file_commit": git("log", "-1", "--format=%H %cs %s", "--", path.name) or "not in a git repository",
            "repo_head": git("rev-parse", "HEAD"), "recorded_git": ckpt.get("git"),
            "model_config": ckpt.get("model_config"), "input_size": ckpt["codec"]["input_size"]}


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass

    def version(module: str) -> str | None:
        try:
            from importlib.metadata import version as v

            return v(module)
        except Exception:
            return None

    return {"cpu": cpu or platform.processor(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "runtime_threads": 2, "python": platform.python_version(), "torch": torch.__version__,
            "onnxruntime": version("onnxruntime"), "ai-edge-litert": version("ai-edge-litert"),
            "litert-torch": version("litert-torch"), "ai-edge-quantizer": version("ai-edge-quantizer")}


def markdown(variants: dict[str, dict[str, Any]]) -> str:
    """The table for docs/export.md (variants scored so far; errors named)."""
    rows = ["| variant | file MB | MPJPE mm | PA-MPJPE mm | 2D px | ms / crop | d MPJPE | d PA-MPJPE | d 2D px |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name, v in variants.items():
        if "mpjpe" not in v:
            rows.append(f"| {name} | {v.get('error', 'skipped')} | | | | | | | |")
            continue
        d = v.get("delta_vs_pytorch", {"mpjpe": 0.0, "pa_mpjpe": 0.0, "joints2d_px": 0.0})
        rows.append(f"| {name} | {v['bytes'] / 1e6:.2f} | {v['mpjpe']:.1f} | {v['pa_mpjpe']:.1f} | "
                    f"{v['joints2d_px']:.2f} | {v['ms_per_crop_median']:.1f} | {d['mpjpe']:+.2f} | "
                    f"{d['pa_mpjpe']:+.2f} | {d['joints2d_px']:+.3f} |")
    return "\n".join(rows) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default="default", help="checkpoint (.pt) or 'default' (the embedded model)")
    ap.add_argument("--data", default="data/anny/anny_32k.h5",
                    help="rendered Anny file (movnect synth --renderer anny --rows 32000 --workers 2 --seed 15 "
                         "--out data/anny/anny_32k.h5)")
    ap.add_argument("--subjects", default="S9,S11", help="scored subjects")
    ap.add_argument("--train-subjects", default="S1,S5,S6,S7,S8", help="calibration subjects (never scored)")
    ap.add_argument("--max-rows", type=int, default=1000, help="scored rows, evenly spread over the subjects' rows")
    ap.add_argument("--calibration", type=int, default=128, help="calibration crops for the int8 full-integer models")
    ap.add_argument("--timing-crops", type=int, default=50, help="batch-1 calls timed per variant")
    ap.add_argument("--flip-test", action="store_true", help="score with the flip test")
    ap.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(VARIANTS)} (pytorch is always run)")
    ap.add_argument("--keep", default="", help="folder for the exported files (default: a temporary folder)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--torch-threads", type=int, default=1,
                    help="torch intra-op threads (PyTorch variant and the decoder); 1 by default: two OpenMP "
                         "threads spin-wait badly on a 2-core machine shared with a training run")
    ap.add_argument("--out", default="bench_out", help="folder for export_accuracy.json / .md")
    a = ap.parse_args()

    data = Path(a.data)
    if not data.is_file():
        raise SystemExit(f"{data} not found: render it with `movnect synth --renderer anny --rows 32000 --workers 2 "
                         "--seed 15 --out data/anny/anny_32k.h5` or pass --data")
    wanted = [v for v in VARIANTS if not a.only or v == "pytorch" or v in a.only.split(",")]
    unknown = set(filter(None, a.only.split(","))) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"--only: unknown variant(s) {', '.join(sorted(unknown))}; choose from {', '.join(VARIANTS)}")
    out_dir = atomic.check_output_dir(a.out, "--out")
    torch.set_num_threads(a.torch_threads)
    identity = model_identity(a.checkpoint)
    model, cfg, codec, source = load_checkpoint_for_export(a.checkpoint)
    protocol = Protocol(tuple(a.subjects.split(",")), 1, a.flip_test, max_rows=a.max_rows)
    calib, calib_rows = calibration_crops(data, tuple(a.train_subjects.split(",")), a.calibration, codec)
    started = time.time()
    load_before = os.getloadavg()
    variants: dict[str, dict[str, Any]] = {}
    # the same crops for every variant's timing: the first scored rows
    timing_crops = read_crops(data, load_ground_truth(data, protocol).rows[: a.timing_crops], codec)

    def report() -> dict[str, Any]:
        """The JSON so far (written after every variant: a long run leaves what it has)."""
        ref = variants.get("pytorch", {})
        for v in variants.values():
            if "mpjpe" in v and "mpjpe" in ref:
                v["delta_vs_pytorch"] = {k: v[k] - ref[k] for k in ("mpjpe", "pa_mpjpe", "n_mpjpe", "joints2d_px")}
        result = {
            "benchmark": "export_accuracy",
            "what": "synthetic renders (rendered Anny people): not real footage, not Human3.6M",
            "model": identity,
            "data": str(data.resolve()),
            "protocol": {"subjects": list(protocol.subjects), "max_rows": a.max_rows, "frames": ref.get("frames"),
                         "flip_test": a.flip_test, "crops": "stored ground-truth crops, resized to the model's input side",
                         "path": "movnect.evaluate.evaluate on movnect.estimator.load_estimator(file)"},
            "calibration": {"subjects": a.train_subjects.split(","), "crops": int(len(calib)),
                            "rows": [int(calib_rows[0]), int(calib_rows[-1])]},
            "timing": f"batch 1, median / p90 of {a.timing_crops} calls after 5 warm-up calls; the model call "
                      "with the Python decoder; on a shared machine, so indicative only",
            "variants": variants,
            "complete": all(v in variants for v in wanted),
            "machine": machine(),
            "load_average": {"before": list(load_before), "after": list(os.getloadavg())},
            "seconds": round(time.time() - started, 1),
            "command": "python bench/export_accuracy.py " + " ".join(
                f"--{k.replace('_', '-')} {v}" for k, v in vars(a).items() if v not in ("", False, None)),
        }
        atomic.write_json(out_dir / "export_accuracy.json", result, indent=2)
        atomic.write_text(out_dir / "export_accuracy.md", markdown(variants))
        return result

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(a.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        exported: dict[str, ExportResult] = {}

        def export(name: str) -> tuple[Path, int, str, str, str | None]:
            """(file, bytes, format, precision, int8 mode) of one variant, exported into `folder`."""
            if name == "pytorch":
                return Path(identity["path"]), int(identity["bytes"]), "pytorch", "fp32", None
            if name == "onnx_int8":
                fp32 = exported.get("onnx_fp32") or export_model(model, cfg, codec, folder / "onnx_fp32",
                                                                 TFLITE["onnx_fp32"], source=source)
                path, size = onnx_int8(fp32.path, folder / "onnx_int8.onnx", calib, TFLITE["onnx_fp32"].spec())
                return path, size, "onnx", "int8", "full (static QDQ)"
            opts = TFLITE[name]
            exported[name] = export_model(model, cfg, codec, folder / name, opts, source=source,
                                          calibration=calib if opts.resolved_int8_mode == "full" else None)
            return (exported[name].path, exported[name].size_bytes, opts.fmt, opts.resolved_precision,
                    opts.resolved_int8_mode)

        for name in wanted:
            t0 = time.time()
            try:
                path, size, fmt, precision, int8_mode = export(name)
                export_s = time.time() - t0
                estimator = load_estimator(path)  # exactly what `movnect eval --checkpoint PATH` loads
                res = evaluate(data, protocol, estimator=estimator, batch_size=a.batch_size)
                timed = timing(estimator, timing_crops)
            except Exception as exc:  # one variant's toolchain failure must not lose the others
                if name == "pytorch":
                    raise
                variants[name] = {"error": f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"}
                report()
                continue
            o = res["overall"]
            variants[name] = {"format": fmt, "precision": precision, "int8_mode": int8_mode, "file": path.name,
                              "bytes": size, "mpjpe": o["mpjpe"], "pa_mpjpe": o["pa_mpjpe"], "n_mpjpe": o["n_mpjpe"],
                              "pck150": o["pck150"], "joints2d_px": o["joints2d_px"],
                              "action_mean_mpjpe": res["action_mean"]["mpjpe"], "frames": res["frames"], **timed,
                              "export_s": round(export_s, 1), "note": res["protocol"].get("model_note", "")}
            report()
    print(json.dumps(report(), indent=2))

if __name__ == "__main__":
    main()
