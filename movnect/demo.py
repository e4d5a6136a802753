"""`movnect demo`: webcam or video in; overlay video, BVH, VMC stream and JSON lines out.

    source -> LivePipeline (crop, model, decode, 1-Euro, skeleton fit) -> outputs
Outputs are opened lazily (the video once the frame size is known, the BVH once the skeleton
is personalised) and closed in a `finally`, so Ctrl-C or the end of the input always leaves a
playable video, a complete BVH and valid JSON lines. Timestamps are the video's own (frame /
fps) for files and the wall clock for webcams.
"""
from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from movnect import overlay
from movnect.camera import Intrinsics
import mobile_export.runtime  # noqa: F401  (registers the .onnx / .tflite runtimes)
from movnect.estimator import PoseEstimator, load_estimator
from movnect.live import FrameResult, LiveConfig, LivePipeline
from movnect.media import Source
from postprocess.bvh import BvhWriter
from postprocess.jsonl import JsonlWriter, frame_record
from postprocess.vmc import VmcSender


@dataclass(frozen=True)
class DemoOptions:
    out_dir: Path | None = None       # overlay.mp4 (+ summary.json) go here when given
    bvh: Path | None = None
    jsonl: Path | None = None
    vmc: tuple[str, int] | None = None
    show: bool = False
    max_frames: int | None = None
    live: LiveConfig = field(default_factory=LiveConfig)
    detector: str = "auto"            # "blazepose", "off", or "auto" (blazepose when installed)


DETECTORS = ("auto", "blazepose", "off")


def load_detector(choice: str):
    """The person detector for the live pipeline (movnect.live.PersonDetector) or None.

    "blazepose": BlazePose's detector (its model file must be fetched: `movnect fetch-assets`);
    "auto": the same when the file is in the cache, else None (the window scan);
    "off": None."""
    if choice not in DETECTORS:
        raise ValueError(f"--detector must be one of {', '.join(DETECTORS)}, got {choice!r}")
    if choice == "off":
        return None
    from movnect import assets

    try:
        assets.asset_path("pose_detection")
    except assets.AssetMissing:
        if choice == "auto":
            return None
        raise
    from movnect.blazepose.pose import PersonFinder

    return PersonFinder().boxes


def parse_host_port(text: str) -> tuple[str, int]:
    """'HOST:PORT' -> (host, port) with a one-line error for anything else, including a host
    name that does not resolve (checked now, not ~30 frames into the run)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--vmc expects HOST:PORT (e.g. 127.0.0.1:39539), got {text!r}")
    try:
        socket.getaddrinfo(host, int(port), type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ValueError(f"--vmc {text}: cannot resolve host {host!r} ({reason})") from None
    return host, int(port)


class Outputs:
    """The demo's writers; each one optional, all closed by `close()`."""

    def __init__(self, options: DemoOptions, fps: float) -> None:
        self.options, self.fps = options, fps
        for path in (options.bvh, options.jsonl):
            if path is not None:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.video: cv2.VideoWriter | None = None
        self.video_path: Path | None = None
        self.video_frames = 0
        self.bvh: BvhWriter | None = None
        self.jsonl = JsonlWriter(options.jsonl) if options.jsonl else None
        self.vmc: VmcSender | None = None
        self.released = 0

    def write_overlay(self, image_bgr: np.ndarray) -> None:
        if self.options.out_dir is None:
            return
        if self.video is None:
            self.options.out_dir.mkdir(parents=True, exist_ok=True)
            self.video_path = self.options.out_dir / "overlay.mp4"
            h, w = image_bgr.shape[:2]
            self.video = cv2.VideoWriter(str(self.video_path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self.video.isOpened():
                raise OSError(f"cannot write video {self.video_path}")
        self.video.write(image_bgr)
        self.video_frames += 1

    def write_released(self, pipeline: LivePipeline, results: list[FrameResult]) -> None:
        if not results:
            return
        if self.options.bvh and self.bvh is None:
            self.bvh = BvhWriter(self.options.bvh, pipeline.skeleton, frame_time=1.0 / self.fps)
        if self.options.vmc and self.vmc is None:
            self.vmc = VmcSender(pipeline.skeleton, *self.options.vmc)
        for r in results:
            fit = r.fit
            if self.bvh is not None:
                self.bvh.write_result(fit)
            if self.vmc is not None:
                self.vmc.send(fit, t=r.t)
            if self.jsonl is not None:
                rec = frame_record(r.index, r.t, fit, joints2d=r.joints2d_filtered, confidence=r.confidence, box=r.box)
                rec["tracked"] = r.tracked
                self.jsonl.write(rec)
            self.released += 1

    def close(self) -> None:
        if self.video is not None:
            self.video.release()
        for w in (self.bvh, self.jsonl, self.vmc):
            if w is not None:
                w.close()


def render_overlay(frame_rgb: np.ndarray, result: FrameResult, pipeline: LivePipeline, stats: list[str]) -> np.ndarray:
    """The overlay image: frame with the 2D skeleton and box, 3D panel beside it (BGR)."""
    img = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR)
    b = result.box
    cv2.rectangle(img, (int(b.x0), int(b.y0)), (int(b.x0 + b.side), int(b.y0 + b.side)), (80, 200, 80), 1)
    overlay.draw_skeleton_2d(img, result.joints2d_filtered, result.confidence, tracked=result.tracked)
    overlay.put_stats(img, stats)
    joints = result.joints3d_filtered
    title = "3D (filtered)" if not pipeline.calibrated else "3D (fitted skeleton)"
    fit = pipeline._last_fit if pipeline.calibrated else None
    if fit is not None:
        joints = fit.root_relative
    panel = overlay.render_skeleton_3d(joints, size=img.shape[0], tracked=result.tracked, title=title)
    return overlay.compose(img, panel)


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or os.name == "nt"


def run_demo(estimator: PoseEstimator, source: str, options: DemoOptions,
             intrinsics: Intrinsics | None = None,
             progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run the demo until the input ends, `max_frames`, a closed window or Ctrl-C.

    Returns a summary: frames, tracked frames, per-stage median milliseconds, fps, outputs.
    """
    src = Source(source)
    try:
        outputs = Outputs(options, src.fps)
    except BaseException:
        src.close()
        raise
    show = options.show and has_display()
    detector = load_detector(options.detector)
    pipeline: LivePipeline | None = None
    stage_ms: dict[str, list[float]] = {k: [] for k in ("capture", "crop", "model+decode", "filter", "fit", "outputs", "total")}
    tracked = 0
    interrupted = False
    try:
        while options.max_frames is None or src.frames_read < options.max_frames:
            t_start = time.perf_counter()
            item = src.read()
            if item is None:
                break
            frame, t = item
            t_cap = time.perf_counter()
            if pipeline is None:
                pipeline = LivePipeline(estimator, frame.shape[:2], intrinsics, options.live, detector)
            result, released = pipeline.step(frame, t)
            tracked += int(result.tracked)
            t_out = time.perf_counter()
            total_so_far = np.median(stage_ms["total"]) if stage_ms["total"] else 0.0
            stats = [f"{1000.0 / total_so_far:5.1f} fps" if total_so_far else "-- fps",
                     f"model {result.timings_ms['model+decode']:.1f} ms",
                     "tracked" if result.tracked else "no person: holding last pose"]
            if options.out_dir is not None or show:
                image = render_overlay(frame, result, pipeline, stats)
                outputs.write_overlay(image)
                if show:
                    cv2.imshow("movnect demo", image)
                    if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                        break
            outputs.write_released(pipeline, released)
            t_end = time.perf_counter()
            stage_ms["capture"].append((t_cap - t_start) * 1e3)
            for k in ("crop", "model+decode", "filter", "fit"):
                stage_ms[k].append(result.timings_ms[k])
            if "search" in result.timings_ms:  # person search: only on frames that lost the person
                stage_ms.setdefault("search", []).append(result.timings_ms["search"])
            if "detect" in result.timings_ms:  # person detector: acquisition and periodic checks
                stage_ms.setdefault("detect", []).append(result.timings_ms["detect"])
            stage_ms["outputs"].append((t_end - t_out) * 1e3)
            stage_ms["total"].append((t_end - t_start) * 1e3)
            if progress is not None:
                progress(src.frames_read)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        try:
            if pipeline is not None:
                outputs.write_released(pipeline, pipeline.finish())
        finally:
            outputs.close()
            src.close()
            if show:
                cv2.destroyAllWindows()
    if src.frames_read == 0:
        raise ValueError(f"no frames could be read from {source}")
    medians = {k: round(float(np.median(v)), 3) for k, v in stage_ms.items() if v}
    summary = {
        "frames": src.frames_read,
        "tracked_frames": tracked,
        "interrupted": interrupted,
        "median_ms": medians,
        "fps": round(1000.0 / medians["total"], 1) if medians.get("total") else None,
        "model": getattr(estimator, "name", "?"),
        "detector": "blazepose" if detector is not None else "window scan",
        "outputs": {
            "overlay": str(outputs.video_path) if outputs.video_path else None,
            "overlay_frames": outputs.video_frames,
            "bvh": str(options.bvh) if options.bvh else None,
            "jsonl": str(options.jsonl) if options.jsonl else None,
            "released_frames": outputs.released,
            "vmc_sent": outputs.vmc.sent if outputs.vmc else 0,
            "vmc_dropped": outputs.vmc.dropped if outputs.vmc else 0,
        },
        "shown": show,
    }
    if options.out_dir is not None:
        from movnect.atomic import write_json

        write_json(options.out_dir / "summary.json", summary, indent=2)
    return summary


def _check_outputs(options: DemoOptions) -> None:
    from movnect.atomic import check_output_dir, check_output_file

    if options.out_dir is not None:
        check_output_dir(options.out_dir, "--out")
    for path, option in ((options.bvh, "--bvh"), (options.jsonl, "--jsonl")):
        if path is not None:
            check_output_file(path, option)


# Named real clips (fetched by `movnect fetch-assets footage`, which `make venv` runs): the
# source name -> its asset. Sports2D's demo clip: 1768 x 994 at 30 fps, 230 frames, outdoors,
# two people (the demo follows the largest); BSD-3-Clause, D. Pagnon (docs/assets.md).
REAL_SOURCES = {"sports2d": "sports2d_demo"}


def named_source(name: str) -> Path:
    """The video file of a named real clip; AssetMissing (naming the fetch command) when the
    clip is not in the asset cache."""
    from movnect import assets

    return assets.asset_path(REAL_SOURCES[name])


def load_demo_estimator(spec: str) -> PoseEstimator:
    """The model for the demo: `movnect.estimator.load_estimator(spec, fast=True)`, i.e. for
    "default" the embedded TFLite export of the default checkpoint when a LiteRT interpreter is
    installed (the fastest backend on a CPU), else the checkpoint; any other spec as everywhere."""
    return load_estimator(spec, fast=True)


def demo(source: str, model: str = "default", out_dir: str | None = None, show: bool = False,
         bvh: str | None = None, vmc: str | None = None, jsonl: str | None = None,
         fov_deg: float = 60.0, max_frames: int | None = None, detector: str = "auto",
         person: int | None = None,
         progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Everything `movnect demo` does: resolve the source ('sample' renders the generated clip
    into the output folder once; 'sports2d' is the fetched real clip, see `named_source`) and
    the model, then `run_demo`."""
    from movnect.sample_clip import sample_intrinsics, write_sample_clip

    receiver = parse_host_port(vmc) if vmc else None  # first: before the sample clip is rendered
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"--max-frames must be >= 1, got {max_frames}")
    intrinsics = None
    if source == "sample" and detector == "auto":
        # the sample clip's rendered stick figures are not people to a real-image detector
        detector = "off"
    if source == "sample":
        out = Path(out_dir or "demo_out")
        clip = out / "sample.mp4"
        meta_path = Path(str(clip) + ".json")
        if clip.is_file() and meta_path.is_file():
            meta = json.loads(meta_path.read_text())
        else:
            meta = write_sample_clip(clip)
        intrinsics = sample_intrinsics(meta)
        source, out_dir = str(clip), str(out)
    elif source in REAL_SOURCES:
        source, out_dir = str(named_source(source)), out_dir or "demo_out"
    if out_dir is not None:  # an output folder gets every file output unless named elsewhere
        bvh = bvh or str(Path(out_dir) / "motion.bvh")
        jsonl = jsonl or str(Path(out_dir) / "poses.jsonl")
    options = DemoOptions(
        out_dir=Path(out_dir) if out_dir else None,
        bvh=Path(bvh) if bvh else None,
        jsonl=Path(jsonl) if jsonl else None,
        vmc=receiver,
        show=show, max_frames=max_frames, live=LiveConfig(fov_deg=fov_deg, person=person),
        detector=detector,
    )
    _check_outputs(options)  # before the model loads and frames are spent
    estimator = load_demo_estimator(model)
    return run_demo(estimator, source, options, intrinsics, progress)
