"""Benchmark of the post-processing chain on SYNTHETIC sequences (not Human3.6M numbers).

A kinematic rig moves smoothly (the post-processing tests' generated fixture,
tests/postprocess/synthetic.py) 4.5 m in front of a
Human3.6M-like camera (f = 1145 px, 1000 x 1000, no distortion); the "network output" is the
projected 2D plus Gaussian noise, the root-relative 3D plus Gaussian noise, and dropped joints
(NaN, confidence 0). The chain is: 1-Euro on 2D and on 3D (VNect presets, VNect-unit scales)
-> skeleton fit (VNect weights) -> box tracker; also without the filters, and with the 3D
filter's derivative cutoff at 1 Hz (the 1-Euro authors' default) instead of VNect's 0.4 Hz.
Prints ONE JSON object: per-frame latency of
the filters, the fit and the rotation read-out (median, p95 in ms, one thread), jitter
(mean per-joint acceleration error, mm/frame^2) and MPJPE (root-relative, mm) of the raw
input and of the fit, reprojection error, and translation error with exact 2D.

    python bench/postprocess_quality.py [--frames 900] [--seed 0]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from movnect.camera import CropBox  # noqa: E402
from postprocess.kinematics import Skeleton  # noqa: E402
from postprocess.one_euro import (  # noqa: E402
    VNECT_2D, VNECT_3D, OneEuroConfig, OneEuroFilter, vnect_scale_2d, vnect_scale_3d,
)
from postprocess.skeleton_fit import FitConfig, SkeletonFitter, estimate_bone_lengths  # noqa: E402
from postprocess.tracker import BoxTracker  # noqa: E402


def _fixture():
    """tests/postprocess/synthetic.py, loaded by file (tests/ is no package on the import path):
    the moving rig and its noisy observations, the same sequences the post-processing tests use."""
    path = Path(__file__).resolve().parents[1] / "tests" / "postprocess" / "synthetic.py"
    spec = importlib.util.spec_from_file_location("postprocess_test_fixture", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the test fixture {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_FIXTURE = _fixture()
CAMERA = _FIXTURE.CAMERA                 # f = 1145 px, 1000 x 1000, no distortion
make_sequence = _FIXTURE.make_sequence   # (frames, seed, noise2d, noise3d, drop) -> t, gt, k, x, conf
accel_error, mpjpe = _FIXTURE.accel_error, _FIXTURE.mpjpe  # root-relative, mm / frame^2 and mm


def personalise(seq: dict, frames: int = 60) -> Skeleton:
    """Bone lengths from the 1-Euro-filtered 3D of the first frames (a calibration phase):
    per-frame noise would inflate them (E|b + n| > |b|)."""
    f3 = OneEuroFilter(VNECT_3D)
    n = min(frames, len(seq["t"]))
    x = np.stack([f3(seq["x"][i], seq["t"][i], scale=100.0, valid=seq["conf"][i] >= 0.1) for i in range(n)])
    return estimate_bone_lengths(x, seq["conf"][:n])


def run_chain(seq: dict, skeleton: Skeleton, fit_cfg: FitConfig, filtered: bool = True,
              filter3d: OneEuroConfig = VNECT_3D) -> dict:
    n = len(seq["t"])
    f2, f3 = OneEuroFilter(VNECT_2D), OneEuroFilter(filter3d)
    fitter = SkeletonFitter(skeleton, CAMERA, fit_cfg)
    tracker = BoxTracker(CropBox(0.0, 0.0, 1000.0))
    s3 = vnect_scale_3d(skeleton.knee_neck_length)
    out = np.full((n, 17, 3), np.nan)
    t_filt, t_fit, t_rot, reproj = [], [], [], []
    for i in range(n):
        t, k, x, c = seq["t"][i], seq["k"][i], seq["x"][i], seq["conf"][i]
        t0 = time.perf_counter()
        if filtered:
            k = f2(k, t, scale=vnect_scale_2d(tracker.box.side), valid=c >= 0.1)
            x = f3(x, t, scale=s3, valid=c >= 0.1)
        t1 = time.perf_counter()
        res = fitter.fit(k, x, c, t)
        t2 = time.perf_counter()
        if res is not None:
            _ = res.local_rotations
        t3 = time.perf_counter()
        tracker.update(seq["k"][i], c, t)
        if res is not None and not res.held:
            out[i] = res.joints
            reproj.append(res.reprojection_error_px)
        t_filt.append(t1 - t0), t_fit.append(t2 - t1), t_rot.append(t3 - t2)
    ms = lambda v: {"median_ms": round(float(np.median(v[1:]) * 1e3), 4),  # noqa: E731
                    "p95_ms": round(float(np.percentile(v[1:], 95) * 1e3), 4)}
    return {"joints": out, "filter": ms(t_filt), "fit": ms(t_fit), "rotations": ms(t_rot),
            "reprojection_px": float(np.median(reproj))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=900)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise2d", type=float, default=3.0, help="px")
    ap.add_argument("--noise3d", type=float, default=25.0, help="mm per coordinate")
    ap.add_argument("--drop", type=float, default=0.05, help="fraction of dropped joints")
    ap.add_argument("--iterations", type=int, default=FitConfig().iterations)
    args = ap.parse_args()

    seq = make_sequence(args.frames, args.seed, args.noise2d, args.noise3d, args.drop)
    skeleton = personalise(seq)
    cfg = FitConfig(iterations=args.iterations)
    chain = run_chain(seq, skeleton, cfg)
    fit_only = run_chain(seq, skeleton, cfg, filtered=False)
    dc1 = OneEuroConfig(VNECT_3D.min_cutoff, VNECT_3D.beta, d_cutoff=1.0)
    tuned = run_chain(seq, skeleton, cfg, filter3d=dc1)
    raw3d = seq["x"] + seq["gt"][:, :1]
    acc_raw, acc_fit = accel_error(raw3d, seq["gt"]), accel_error(chain["joints"], seq["gt"])

    exact = make_sequence(args.frames, args.seed + 1, 0.0, args.noise3d, 0.0)
    ex = run_chain(exact, personalise(exact), cfg)
    root_err = np.linalg.norm(ex["joints"][:, 0] - exact["gt"][:, 0], axis=-1) / exact["gt"][:, 0, 2]

    result = {
        "benchmark": "postprocess (synthetic sequences; NOT Human3.6M)",
        "frames": args.frames, "fps": 30, "noise2d_px": args.noise2d, "noise3d_mm": args.noise3d,
        "dropped_fraction": args.drop, "fit_iterations": cfg.iterations,
        "latency": {"filters_2d_3d": chain["filter"], "fit": chain["fit"], "rotations": chain["rotations"]},
        "jitter_accel_mm_per_frame2": {"raw": round(acc_raw, 2), "filter_fit": round(acc_fit, 2),
                                       "fit_only": round(accel_error(fit_only["joints"], seq["gt"]), 2),
                                       "filter_fit_3d_dcutoff_1hz": round(accel_error(tuned["joints"], seq["gt"]), 2),
                                       "reduction": round(1 - acc_fit / acc_raw, 4)},
        "mpjpe_mm": {"raw": round(mpjpe(raw3d, seq["gt"]), 2),
                     "filter_fit": round(mpjpe(chain["joints"], seq["gt"]), 2),
                     "fit_only": round(mpjpe(fit_only["joints"], seq["gt"]), 2),
                     "filter_fit_3d_dcutoff_1hz": round(mpjpe(tuned["joints"], seq["gt"]), 2)},
        "reprojection_px_median": round(chain["reprojection_px"], 3),
        "translation_error_exact_2d": {"median_pct_of_depth": round(float(np.median(root_err)) * 100, 3),
                                       "max_pct_of_depth": round(float(np.max(root_err)) * 100, 3)},
        "bone_length_spread_mm": float(np.ptp(np.linalg.norm(
            chain["joints"][:, 1:] - chain["joints"][:, [p for p in (0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)]],
            axis=-1), axis=0).max()),
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "numpy": np.__version__, "platform": platform.platform(),
                    "threads": os.environ.get("OMP_NUM_THREADS"),
                    "load_average_1min": round(os.getloadavg()[0], 2)},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
