"""Pseudo-labelled training data from footage (`movnect label`): BlazePose as the teacher.

Each input (a video file, or a folder of images) becomes one sequence of rows in the training
HDF5 schema that prepare-h36m writes (docs/data.md), so train, distill and eval read it:

* videos: BlazePose's detect-then-track loop follows one person (the largest, or the
  `person`-th from the left when first found) over the kept frames; image folders: each image
  on its own (detector, then the landmark model on the chosen person);
* per row: the teacher's 2D (image px) and per-joint confidence (visibility x pose score),
  its root-relative 3D placed in the camera frame at the translation that best reprojects onto
  that 2D (so `joints2d` is the teacher's 2D, close to but not exactly the projection of
  `joints3d`), pinhole intrinsics from `fov_deg` (no lens distortion), identity extrinsics, a
  crop framed like the training crops around the 2D;
* quality filters, counted in the summary: frames with nobody found, low mean confidence,
  temporal jumps (the mean 2D change exceeds `max_jump` x the person's size in one kept frame)
  and left/right flips (the pose matches the previous one better mirrored).

Extra columns beside the schema: `confidence` (N, 17) float32 (H36MDataset treats joints below
0.5 as unlabelled), `in_frame` (N, 17) uint8 (the teacher's 2D inside the frame, as the Anny
renderer's column: H36MDataset drops the heatmap term of joints outside, keeps their 3D), attribute `source` = "pseudo-label:blazepose-<variant>". Names: one subject and one
sequence per input (its file or folder name), camera "monocular", action -1 (none).

Resumable like prepare-h36m: one shard per input in `<out>.parts/`, written atomically, reused
by a re-run with the same options; the merged file is renamed into place last.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from movnect import atomic, skeleton
from movnect.camera import Intrinsics, crop_image, inside_image
from movnect.data.h36m import create_rows, finish_file, person_box
from movnect.data.h36m_release import ACTIONS

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
FILTERS = ("no_person", "low_confidence", "jump", "flip")


@dataclass(frozen=True)
class LabelOptions:
    teacher: str = "blazepose-heavy"   # blazepose-lite | blazepose-full | blazepose-heavy
    crop_size: int = 256
    margin: float = 0.2
    frame_step: int = 1
    fov_deg: float = 60.0              # horizontal field of view assumed for the footage
    min_row_confidence: float = 0.6    # rows whose mean joint confidence is lower are dropped
    max_jump: float = 0.25             # fraction of the person's size per kept frame
    person: int | None = None
    jpeg_quality: int = 90
    workers: int = 1

    def __post_init__(self) -> None:
        if not self.teacher.startswith("blazepose-") or self.teacher.split("-", 1)[1] not in ("lite", "full", "heavy"):
            raise ValueError(f"--teacher must be blazepose-lite, blazepose-full or blazepose-heavy, got {self.teacher!r}")
        if self.crop_size < 8 or self.frame_step < 1 or self.workers < 1 or not 10 <= self.fov_deg <= 170:
            raise ValueError(f"need crop_size >= 8, frame_step >= 1, workers >= 1, 10 <= fov <= 170; got {self}")


@dataclass
class InputResult:
    name: str
    status: str                      # "labelled" | "reused" | "skipped"
    rows: int = 0
    frames: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    message: str = ""


@dataclass
class LabelSummary:
    out: Path
    rows: int
    results: list[InputResult]

    def dropped(self) -> dict[str, int]:
        return {k: sum(r.dropped.get(k, 0) for r in self.results) for k in FILTERS}


def fov_intrinsics(height: int, width: int, fov_deg: float) -> Intrinsics:
    f = (width / 2.0) / np.tan(np.radians(fov_deg) / 2.0)
    return Intrinsics((f, f), ((width - 1) / 2.0, (height - 1) / 2.0), width=width, height=height)


def place_in_camera(rel: np.ndarray, uv: np.ndarray, weights: np.ndarray, k: Intrinsics) -> np.ndarray:
    """Translation T (3,) mm such that rel + T projects (pinhole) closest to uv, by linear
    least squares on fx (X + Tx) - (u - cx) (Z + Tz) = 0 (and likewise for y).

    Args: rel (J, 3) root-relative mm; uv (J, 2) px; weights (J,) >= 0.
    """
    (fx, fy), (cx, cy) = k.focal, k.center
    du, dv = uv[:, 0] - cx, uv[:, 1] - cy
    w = np.sqrt(np.clip(weights, 0, None))[:, None]
    A = np.concatenate([np.stack([np.full_like(du, fx), np.zeros_like(du), -du], 1),
                        np.stack([np.zeros_like(dv), np.full_like(dv, fy), -dv], 1)])
    b = np.concatenate([du * rel[:, 2] - fx * rel[:, 0], dv * rel[:, 2] - fy * rel[:, 1]])
    wt = np.concatenate([w, w])
    t, *_ = np.linalg.lstsq(A * wt, b * wt[:, 0], rcond=None)
    if t[2] + rel[:, 2].min() <= 1.0:  # degenerate: keep the person in front of the camera
        t[2] = 1.0 - rel[:, 2].min() + 1000.0
    return t


def read_frames(path: Path, step: int):
    """(index, RGB frame (H, W, 3) uint8) of a video or an image folder (sorted by name, every
    `step`-th); ValueError naming the file if unreadable, or the folder if it holds no image."""
    import cv2

    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"{path}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        for i, p in enumerate(files[::step]):
            bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if bgr is None:
                raise ValueError(f"unreadable image: {p}")
            yield i * step, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"unreadable video: {path}")
    i, any_frame = 0, False
    try:
        while cap.grab():
            if i % step == 0:
                ok, bgr = cap.retrieve()
                if not ok:
                    break
                any_frame = True
                yield i, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            i += 1
    finally:
        cap.release()
    if not any_frame:
        raise ValueError(f"unreadable video: {path} (no frame could be decoded)")


def label_input(path: Path, opts: LabelOptions, shard: Path,
                progress: Callable[[int], None] | None = None) -> InputResult:
    """Label one input into a shard file (atomically); unreadable input or nobody found ->
    status 'skipped' with the reason."""
    import cv2
    import h5py

    from movnect.blazepose.pose import BlazePoseTracker, landmarks_to_joints

    cv2.setNumThreads(1)
    variant = opts.teacher.split("-", 1)[1]
    select = "largest" if opts.person is None else _nth_from_left(opts.person)
    tracker = BlazePoseTracker(variant, threads=1, select=select)
    still = path.is_dir()
    dropped = dict.fromkeys(FILTERS, 0)
    cols: dict[str, list] = {k: [] for k in ("images", "joints3d", "joints2d", "crop_box", "frame",
                                             "intrinsics", "image_size", "confidence", "in_frame")}
    prev: np.ndarray | None = None
    frames = 0
    try:
        for i, frame in read_frames(path, opts.frame_step):
            frames += 1
            if progress and frames % 10 == 0:
                progress(frames)
            if still:
                tracker.reset()
            lm = tracker(frame)
            if lm is None:
                dropped["no_person"] += 1
                prev = None
                continue
            j2, conf, rel = landmarks_to_joints(lm)
            if conf.mean() < opts.min_row_confidence:
                dropped["low_confidence"] += 1
                continue
            size = float(np.ptp(j2, axis=0).max())
            if prev is not None and not still:
                same = np.linalg.norm(j2 - prev, axis=-1).mean()
                mirrored = np.linalg.norm(j2[skeleton.FLIP_PERM] - prev, axis=-1).mean()
                if mirrored < 0.5 * same and same > 0.03 * size:
                    dropped["flip"] += 1
                    prev = j2
                    continue
                if same > opts.max_jump * size:
                    dropped["jump"] += 1
                    prev = j2
                    continue
            prev = j2
            h, w = frame.shape[:2]
            k = fov_intrinsics(h, w, opts.fov_deg)
            j3 = rel + place_in_camera(rel, j2, conf, k)
            box = person_box(j2, opts.margin)
            crop = crop_image(frame, box, opts.crop_size)
            ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, opts.jpeg_quality])
            cols["images"].append(np.frombuffer(jpg.tobytes(), dtype=np.uint8))
            cols["joints3d"].append(j3)
            cols["joints2d"].append(j2)
            cols["crop_box"].append(box.as_array())
            cols["frame"].append(i)
            cols["intrinsics"].append([*k.focal, *k.center, *k.radial, *k.tangential])
            cols["image_size"].append([w, h])
            cols["confidence"].append(conf)
            cols["in_frame"].append(inside_image(j2, w, h))
    except ValueError as exc:
        return InputResult(path.name, "skipped", frames=frames, dropped=dropped, message=str(exc))
    n = len(cols["images"])
    if n == 0:
        return InputResult(path.name, "skipped", frames=frames, dropped=dropped,
                           message=f"{path}: no usable person in {frames} frames ({_fmt(dropped)})")
    with atomic.atomic_path(shard, temp=shard.with_name(shard.name + ".tmp")) as tmp, h5py.File(tmp, "w") as f:
        ds = f.create_dataset("images", (n,), dtype=h5py.vlen_dtype(np.uint8))
        ds[...] = np.array(cols["images"] + [None], dtype=object)[:-1]
        dtypes = {"joints3d": np.float32, "joints2d": np.float32, "crop_box": np.float32, "frame": np.int32,
                  "intrinsics": np.float64, "image_size": np.int32, "confidence": np.float32,
                  "in_frame": np.uint8}
        for key, dt in dtypes.items():
            f[key] = np.asarray(cols[key], dtype=dt)
        f.attrs.update({"name": path.name, "rows": n, "frames": frames, "dropped": json.dumps(dropped)})
    return InputResult(path.name, "labelled", n, frames, dropped)


def _nth_from_left(k: int):
    def choose(dets):
        by_x = sorted(dets, key=lambda d: d.keypoints[0, 0])
        return by_x[min(k, len(by_x) - 1)]
    return choose


def _fmt(dropped: dict[str, int]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in dropped.items() if v) or "nothing dropped"


def check_inputs(inputs: list[str | Path], out: Path, overwrite: bool) -> list[Path]:
    """The input paths of a footage command (label, crops), checked before any work: one-line
    ValueError / FileNotFoundError / FileExistsError for no input, a missing one, two with the
    same name (names are the sequences) or an existing output without `overwrite`."""
    paths = [Path(p) for p in inputs]
    if not paths:
        raise ValueError("no input given (--input VIDEO|IMAGE_DIR ...)")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"input not found: {missing[0]}")
    names = [p.name for p in paths]
    if len(set(names)) != len(names):
        raise ValueError(f"inputs must have distinct names (they name the sequences): {names}")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass --overwrite to rebuild it")
    return paths


def _task(args: tuple[Path, LabelOptions, Path]) -> InputResult:
    return label_input(*args)


def label_inputs(inputs: list[str | Path], out: str | Path, opts: LabelOptions = LabelOptions(),
                 progress: Callable[[InputResult, int, int], None] | None = None,
                 frame_progress: Callable[[str, int], None] | None = None,
                 overwrite: bool = False) -> LabelSummary:
    """Label every input into the HDF5 file `out` (see the module docstring)."""
    out = Path(out)
    paths = check_inputs(inputs, out, overwrite)
    from movnect import assets

    assets.asset_path("pose_detection")  # a clear error before any work when not fetched
    assets.asset_path(f"pose_landmark_{opts.teacher.split('-', 1)[1]}")
    work = out.with_name(out.name + ".parts")
    work.mkdir(parents=True, exist_ok=True)
    params = {k: v for k, v in asdict(opts).items() if k != "workers"}
    pfile = work / "params.json"
    if pfile.exists() and json.loads(pfile.read_text()) != params:
        raise ValueError(f"{work} holds labels made with other options ({pfile.read_text().strip()}); "
                         "delete it or rerun with the same options")
    atomic.write_text(pfile, json.dumps(params))
    shards = [work / f"{k:04d}__{p.name}.h5" for k, p in enumerate(paths)]
    results: list[InputResult] = []
    todo = []
    for p, s in zip(paths, shards):
        if s.exists():
            results.append(_reused(s))
            if progress:
                progress(results[-1], len(results), len(paths))
        else:
            todo.append((p, opts, s))
    if opts.workers == 1 or len(todo) <= 1:
        for p, o, s in todo:
            fp = (lambda n, name=p.name: frame_progress(name, n)) if frame_progress else None
            results.append(label_input(p, o, s, fp))
            if progress:
                progress(results[-1], len(results), len(paths))
    else:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(min(opts.workers, len(todo))) as pool:
            for res in pool.imap_unordered(_task, todo):
                results.append(res)
                if progress:
                    progress(res, len(results), len(paths))
    order = {p.name: k for k, p in enumerate(paths)}
    results.sort(key=lambda r: order[r.name])
    kept = [s for s, r in zip(shards, results) if r.status != "skipped"]
    if not kept:
        raise ValueError(f"no input gave a usable person; first problem: {results[0].message}")
    rows = _merge(kept, out, params, results)
    shutil.rmtree(work, ignore_errors=True)
    return LabelSummary(out, rows, results)


def _reused(shard: Path) -> InputResult:
    import h5py

    with h5py.File(shard, "r") as f:
        return InputResult(str(f.attrs["name"]), "reused", int(f.attrs["rows"]), int(f.attrs["frames"]),
                           json.loads(f.attrs["dropped"]))


def _merge(shards: list[Path], out: Path, params: dict, results: list[InputResult]) -> int:
    import h5py

    parts = []
    for s in shards:
        with h5py.File(s, "r") as f:
            part = {k: f[k][...] for k in f.keys()} | {"name": str(f.attrs["name"])}
        if "in_frame" not in part:  # a shard written before the column existed (a resumed run)
            size = part["image_size"]
            part["in_frame"] = inside_image(part["joints2d"], size[:, None, 0], size[:, None, 1])
        parts.append(part)
    total = sum(len(p["frame"]) for p in parts)
    with atomic.atomic_path(out, temp=out.with_name(out.name + ".partial")) as tmp, h5py.File(tmp, "w") as f:
        images, ds = create_rows(f, total, {"confidence": ((skeleton.NUM_JOINTS,), np.float32),
                                            "in_frame": ((skeleton.NUM_JOINTS,), np.uint8)})
        a = 0
        for k, p in enumerate(parts):
            b = a + len(p["frame"])
            for r, jpg in enumerate(p["images"]):
                images[a + r] = jpg
            for key in ("joints3d", "joints2d", "crop_box", "frame", "intrinsics", "image_size", "confidence", "in_frame"):
                ds[key][a:b] = p[key]
            ds["subject"][a:b] = k
            ds["sequence"][a:b] = k
            a = b
        ds["extrinsics"][...] = np.array([1.0, 0, 0, 0, 0, 0, 0])
        ds["action"][...] = -1
        ds["subaction"][...] = 1
        ds["camera"][...] = 0
        names = [p["name"] for p in parts]
        finish_file(f, {"subjects": names, "actions": list(ACTIONS), "cameras": ["monocular"], "sequences": names}, {
            "options": json.dumps(params), "crop_size": params["crop_size"], "frame_step": params["frame_step"],
            "margin": params["margin"], "source": f"pseudo-label:{params['teacher']}",
            "skipped": json.dumps([r.message for r in results if r.status == "skipped"]),
            "warnings": json.dumps([]),
        })
    return total
