"""Parity of an exported model with its PyTorch original, on sample frames.

The reference is the PyTorch network on the same uint8 crops (normalised by the codec) and the
Python decoder (`Codec.decode`). The exported model runs where this machine can run it: ONNX
Runtime, the TFLite interpreter, and for CoreML the Linux MIL checker (mobile_export.mil_check).

Reported: the maximum map difference (absolute and relative to the largest reference map
value; maps-output models only), and joint errors, 2D in crop pixels and 3D in mm.

Why joint errors are judged on "stable" joints only: a joint's 2D position is an argmax, so
when its heatmap has two near-equal cells any tiny map error may move it to the other one
(a far peak, or a neighbour when the joint lies between two cells: the sub-cell refinement
then only agrees for Gaussian-shaped peaks); that is not an export fault. A joint is stable
when its reference peak exceeds every other cell of its heatmap by more than twice that
heatmap's error bound (its measured maximum error for maps outputs, so that its argmax cannot
move; the precision's map threshold times the largest map value for decoded outputs).
3D errors additionally need a stable root, since 3D joints are root-relative. A trained model
on real frames has nearly all joints stable; an untrained one has few, and the report says so.

Thresholds per precision (chosen from measurements, see docs/export.md):
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from movnect import skeleton
from movnect.codec import Codec
from mobile_export.metadata import read_metadata, spec_from_metadata
from mobile_export.runtime import crops_to_input, format_of, maps_to_nchw, open_runner
from mobile_export.wrapper import ExportSpec, ExportWrapper


@dataclass(frozen=True)
class Thresholds:
    map_rel: float       # max |maps - ref| / max |ref maps|
    joints2d_px: float   # max 2D error over stable joints, crop pixels
    joints3d_mm: float   # max 3D error over stable joints, mm


THRESHOLDS: dict[str, Thresholds] = {
    "fp32": Thresholds(map_rel=1e-4, joints2d_px=0.05, joints3d_mm=0.5),
    "fp16": Thresholds(map_rel=1e-2, joints2d_px=0.5, joints3d_mm=10.0),
    "int8-weight": Thresholds(map_rel=8e-2, joints2d_px=2.0, joints3d_mm=30.0),
    "int8-full": Thresholds(map_rel=0.25, joints2d_px=4.0, joints3d_mm=60.0),
}
__doc__ += "".join(f"  {k:12s} {v}\n" for k, v in THRESHOLDS.items())


def thresholds_for(precision: str, int8_mode: str | None = None) -> Thresholds:
    key = f"int8-{int8_mode or 'weight'}" if precision == "int8" else precision
    if key not in THRESHOLDS:
        raise ValueError(f"no thresholds for precision {precision!r} / int8 mode {int8_mode!r}")
    return THRESHOLDS[key]


def _stats(x: np.ndarray) -> dict[str, float] | None:
    if x.size == 0:
        return None
    return {"mean": float(x.mean()), "median": float(np.median(x)), "max": float(x.max())}


@dataclass
class VerifyReport:
    format: str
    precision: str
    frames: int
    decode: bool
    thresholds: Thresholds
    map_max_abs: float | None
    map_rel: float | None
    joints2d_px: dict[str, float] | None        # over stable joints
    joints3d_mm: dict[str, float] | None        # over stable joints with a stable root
    joints2d_px_all: dict[str, float] | None    # over every joint (argmax jumps included)
    confidence_max_abs: float
    stable_joints: int
    total_joints: int
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passed"] = self.passed
        return d

    def summary(self) -> str:
        """A few human-readable lines (the CLI prints them)."""
        t = self.thresholds

        def fmt(s: dict[str, float] | None, unit: str) -> str:
            return "n/a" if s is None else f"mean {s['mean']:.3g} / max {s['max']:.3g} {unit}"

        lines = [f"verify {self.format} {self.precision} on {self.frames} frame(s): "
                 f"{'PASS' if self.passed else 'FAIL'}"]
        if self.map_max_abs is not None:
            lines.append(f"  maps      max |diff| {self.map_max_abs:.3g} (relative {self.map_rel:.3g}, limit {t.map_rel:g})")
        lines.append(f"  joints2d  {fmt(self.joints2d_px, 'px')} (limit {t.joints2d_px:g} px) "
                     f"on {self.stable_joints}/{self.total_joints} stable joints; all joints {fmt(self.joints2d_px_all, 'px')}")
        lines.append(f"  joints3d  {fmt(self.joints3d_mm, 'mm')} (limit {t.joints3d_mm:g} mm)")
        lines.append(f"  confidence max |diff| {self.confidence_max_abs:.3g}")
        lines += [f"  note: {n}" for n in self.notes] + [f"  FAIL: {f}" for f in self.failures]
        return "\n".join(lines)


@torch.no_grad()
def reference_maps(model: nn.Module, codec: Codec, frames: np.ndarray, batch: int = 8) -> np.ndarray:
    """PyTorch maps (N, 4J, h, w) for (N, S, S, 3) uint8 crops, through the same wrapper."""
    wrapper = ExportWrapper(model, codec, ExportSpec(layout="nhwc", input_dtype="uint8")).eval()
    out = [wrapper(torch.from_numpy(frames[i: i + batch]))["maps"].permute(0, 3, 1, 2).float().numpy()
           for i in range(0, len(frames), batch)]
    return np.concatenate(out)


def peak_margin(heat: np.ndarray) -> np.ndarray:
    """(N, J, h, w) -> (N, J): the highest heatmap value minus the second highest (any cell)."""
    n, j = heat.shape[:2]
    top2 = np.sort(heat.reshape(n, j, -1), axis=-1)[..., -2:]
    return top2[..., 1] - top2[..., 0]


def verify_export(
    path: str | Path, model: nn.Module, codec: Codec, frames: np.ndarray, precision: str,
    int8_mode: str | None = None, num_threads: int = 2,
) -> VerifyReport:
    """Run the exported model at `path` and the PyTorch `model` on `frames` (N, S, S, 3) uint8
    RGB crops and compare (see the module docstring). Never raises on a failed comparison: the
    report lists the failures."""
    size = codec.config.input_size
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[1:] != (size, size, 3) or frames.dtype != np.uint8:
        raise ValueError(f"verify: expected uint8 frames (N, {size}, {size}, 3), got {frames.dtype} {frames.shape}")
    meta = read_metadata(path)
    spec = spec_from_metadata(meta)
    limits = thresholds_for(precision, int8_mode)
    runner = open_runner(path, num_threads)
    j = codec.num_joints

    ref = reference_maps(model, codec, frames)
    ref_dec = codec.decode(torch.from_numpy(ref))
    outs = [runner(crops_to_input(frames[i: i + spec.batch], spec)) for i in range(0, len(frames), spec.batch)]
    map_abs = map_rel = None
    if spec.decode:
        j2 = np.concatenate([o["joints2d"] for o in outs])
        j3 = np.concatenate([o["joints3d"] for o in outs])
        conf = np.concatenate([o["confidence"] for o in outs])
        heat_eps = np.full(ref.shape[:1] + (j,), limits.map_rel * float(np.abs(ref).max()))
    else:
        maps = np.concatenate([maps_to_nchw(o["maps"], spec) for o in outs]).astype(np.float32)
        diff = np.abs(maps - ref)
        map_abs = float(diff.max())
        map_rel = map_abs / max(float(np.abs(ref).max()), 1e-12)
        heat_eps = diff[:, :j].reshape(len(frames), j, -1).max(-1)  # (N, J) per heatmap
        dec = codec.decode(torch.from_numpy(maps), check=False)
        j2, conf, j3 = dec.joints2d.numpy(), dec.confidence.numpy(), dec.joints3d.numpy()

    e2 = np.linalg.norm(j2 - ref_dec.joints2d.numpy(), axis=-1)
    e3 = np.linalg.norm(j3 - ref_dec.joints3d.numpy(), axis=-1)
    stable = peak_margin(ref[:, :j]) > 2.0 * heat_eps
    stable3 = stable & stable[:, skeleton.ROOT: skeleton.ROOT + 1]
    report = VerifyReport(
        format=format_of(path), precision=precision + (f"-{int8_mode}" if precision == "int8" else ""),
        frames=len(frames), decode=spec.decode, thresholds=limits, map_max_abs=map_abs, map_rel=map_rel,
        joints2d_px=_stats(e2[stable]), joints3d_mm=_stats(e3[stable3]), joints2d_px_all=_stats(e2.ravel()),
        confidence_max_abs=float(np.abs(conf - ref_dec.confidence.numpy()).max()),
        stable_joints=int(stable.sum()), total_joints=int(stable.size),
    )
    if not (np.isfinite(j2).all() and np.isfinite(j3).all()):
        report.failures.append("exported model produced NaN or infinite joints")
    if map_rel is not None and not map_rel <= limits.map_rel:
        report.failures.append(f"relative map difference {map_rel:.3g} > {limits.map_rel:g}")
    if report.joints2d_px and report.joints2d_px["max"] > limits.joints2d_px:
        report.failures.append(f"2D joint error {report.joints2d_px['max']:.3g} px > {limits.joints2d_px:g} px")
    if report.joints3d_mm and report.joints3d_mm["max"] > limits.joints3d_mm:
        report.failures.append(f"3D joint error {report.joints3d_mm['max']:.3g} mm > {limits.joints3d_mm:g} mm")
    if report.stable_joints < report.total_joints // 2:
        report.notes.append(
            f"only {report.stable_joints} of {report.total_joints} joints have a distinct heatmap peak "
            "on these frames (untrained model or frames without a person?): joint errors checked on few joints"
        )
    ref_max = float(np.abs(ref).max())
    if ref_max < 1e-3:
        report.notes.append(
            f"the reference maps are tiny (max |value| {ref_max:.2g}): an untrained model? float16 "
            "cannot hold values below 6e-5 accurately, so fp16 comparisons of such maps are meaningless"
        )
    if format_of(path) == "coreml":
        report.notes.append("CoreML ran on the Linux MIL checker: converted graph and weights, not Apple's kernels")
    return report
