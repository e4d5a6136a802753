"""Human3.6M release -> one HDF5 training file (`movnect prepare-h36m`).

Per sequence (subject, file action, camera): world poses from the CDF file go to the camera frame
through the subject's camera (X_cam = R^T (X_world - t)), 32 -> 17 joints, project with lens
distortion; each kept video frame is cropped to a square around the projected joints (side =
(1 + 2 margin) x the larger side of their bounding box), resized to `crop_size` and stored as
JPEG with its metadata. The HDF5 schema is documented in docs/data.md.

Safety and resumability: every sequence is written as its own shard file in `<out>.parts/`
(temporary name, fsync, then an atomic rename), so a re-run reuses finished shards and redoes
only the rest; a shard that cannot be read back is named in the summary's notes, deleted and
converted again. `<out>.parts/.lock` keeps a second conversion to the same output out. The shards are merged into `<out>.partial`, which gets the attribute complete=True and is
renamed to `<out>` only at the very end; readers (`open_h36m`) refuse files without it.

Known damaged takes (h36m_release.damaged_takes: S9 Greeting, SittingDown 1, Waiting 1; S11
Directions camera 54138969) are left out unless `keep_damaged`; the summary lists them and the
file's `damaged` attribute records the variant. Video/mocap length mismatches of more than
MISMATCH_WARN_FRAMES frames are warned about with their size; smaller ones (common in the
release) are only counted.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from movnect import atomic, skeleton
from movnect.camera import CropBox, crop_image, project, world_to_camera
from movnect.locks import FolderLock
from movnect.data.h36m_video import FrameReader
from movnect.data.h36m_release import (
    ACTIONS, Sequence, SequenceError, discover, open_video, read_poses, release_camera,
    split_damaged, subject_key,
)

FORMAT = "movnect-h36m"
VERSION = 1
MISMATCH_WARN_FRAMES = 2   # video/mocap length differences above this are warned about


@dataclass(frozen=True)
class PrepareOptions:
    crop_size: int = 256          # stored crop side, pixels
    margin: float = 0.2           # crop side = (1 + 2 margin) x larger side of the joints' box
    frame_step: int = 5           # keep frames 0, step, 2 step, ... of each sequence
    jpeg_quality: int = 90
    subjects: tuple[str, ...] | None = None
    cameras: tuple[str, ...] | None = None
    workers: int = 1
    keep_damaged: bool = False    # convert the known damaged takes too (h36m_release.damaged_takes)
    seek: bool = True             # seek over long gaps when measured faster (same frames; h36m_video)

    def __post_init__(self) -> None:
        if self.crop_size < 8 or self.frame_step < 1 or self.workers < 1:
            raise ValueError(f"need crop_size >= 8, frame_step >= 1, workers >= 1; got {self}")
        if not 0.0 <= self.margin <= 2.0 or not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"margin must lie in [0, 2] and jpeg_quality in [1, 100]; got {self}")


@dataclass
class SequenceResult:
    name: str
    status: str                   # "converted" | "reused" | "skipped"
    rows: int = 0
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    video_frames: int = -1        # frames in the video (-1: not read)
    mocap_frames: int = -1        # frames in the mocap (CDF)


@dataclass
class PrepareSummary:
    out: Path
    rows: int
    results: list[SequenceResult]
    problems: list[str]           # found while scanning the release (e.g. missing videos)
    damaged: list[str] = field(default_factory=list)  # known damaged sequences left out (names)
    keep_damaged: bool = False

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    def small_mismatches(self) -> int:
        """Sequences whose video and mocap lengths differ by 1..MISMATCH_WARN_FRAMES frames."""
        return sum(0 < abs(r.video_frames - r.mocap_frames) <= MISMATCH_WARN_FRAMES
                   for r in self.results if r.video_frames >= 0 and r.mocap_frames >= 0)

    def damaged_line(self) -> str:
        """One summary line about the known damaged takes."""
        if self.keep_damaged:
            return "known damaged takes kept (--keep-damaged): their ground truth may be misaligned"
        if not self.damaged:
            return "no known damaged take in the selection"
        return (f"left out {len(self.damaged)} sequences of known damaged takes ({damaged_summary(self.damaged)}); "
                "--keep-damaged keeps them")


def damaged_summary(names: list[str]) -> str:
    """'S9/Greeting: 4 cameras, S11/Directions: 54138969' from sequence names 'S/stem.camera'."""
    by_take: dict[str, list[str]] = {}
    for name in names:
        take, cam_id = name.rsplit(".", 1)
        by_take.setdefault(take, []).append(cam_id)
    return ", ".join(f"{t}: {len(c)} cameras" if len(c) > 1 else f"{t}: {c[0]}" for t, c in by_take.items())


def person_box(uv: np.ndarray, margin: float) -> CropBox:
    """Square box around (J, 2) image points: centred on their bounding box, side (1 + 2 m) x max extent."""
    uv = np.asarray(uv, dtype=np.float64)
    if uv.ndim != 2 or uv.shape[1] != 2:
        raise ValueError(f"person_box: expected (J, 2) points, got {uv.shape}")
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    side = max(float((hi - lo).max()) * (1.0 + 2.0 * margin), 8.0)
    return CropBox.around(tuple((lo + hi) / 2.0), side)


def _shard_path(work: Path, seq: Sequence) -> Path:
    return work / f"{seq.subject}__{seq.stem}__{seq.camera}.h5"


def convert_sequence(seq: Sequence, root: Path, opts: PrepareOptions, shard: Path) -> SequenceResult:
    """Convert one sequence into a shard file (atomically). Damaged inputs -> status 'skipped'."""
    import cv2

    cv2.setNumThreads(1)
    warnings: list[str] = []
    try:
        poses = read_poses(seq.cdf_path)
        camera = release_camera(root, seq.subject, seq.camera)
        j3d = world_to_camera(skeleton.from_h36m32(poses), camera.extrinsics)
        if np.any(j3d[..., 2] <= 0):
            raise SequenceError(f"{seq.name}: joints behind the camera (wrong camera parameters?)")
        j2d = project(j3d, camera.intrinsics)
        cap = open_video(seq.video_path)
        jpgs, frames, boxes = [], [], []
        n_pose = len(poses)
        try:
            reader = FrameReader(cap, n_pose, seek=opts.seek)
            for i, image in reader.frames(range(0, n_pose, opts.frame_step)):
                if not frames:
                    h, w = image.shape[:2]
                    want = (camera.intrinsics.width, camera.intrinsics.height)
                    if abs(w - want[0]) > 2 or abs(h - want[1]) > 2:
                        raise SequenceError(f"{seq.name}: video is {w}x{h} but camera {seq.camera} "
                                            f"is calibrated for {want[0]}x{want[1]}")
                box = person_box(j2d[i], opts.margin)
                crop = crop_image(image, box, opts.crop_size)
                ok, jpg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, opts.jpeg_quality])
                jpgs.append(np.frombuffer(jpg.tobytes(), dtype=np.uint8))
                frames.append(i)
                boxes.append(box.as_array())
            n_video = reader.video_length()
        finally:
            cap.release()
        if not frames:
            raise SequenceError(f"unreadable video {seq.video_path}: no frame could be decoded")
        warning = length_warning(seq.name, n_video, n_pose)
        if warning:
            warnings.append(warning)
    except SequenceError as exc:
        return SequenceResult(seq.name, "skipped", message=str(exc))
    idx = np.asarray(frames)
    # fsync before the rename: a power cut leaves no empty shard
    with atomic.atomic_path(shard, temp=shard.with_name(shard.name + ".tmp")) as tmp:
        _write_shard(tmp, seq, camera, jpgs, idx, j3d, j2d, boxes, warnings, (n_video, n_pose))
    return SequenceResult(seq.name, "converted", len(jpgs), warnings=warnings, video_frames=n_video,
                          mocap_frames=n_pose)


def length_warning(name: str, n_video: int, n_pose: int) -> str | None:
    """The warning for a video/mocap length mismatch above MISMATCH_WARN_FRAMES, with its size."""
    d = n_video - n_pose
    if abs(d) <= MISMATCH_WARN_FRAMES:
        return None
    what = "trimmed to the mocap" if d > 0 else f"used the first {n_video}"
    return f"{name}: video has {n_video} frames, mocap {n_pose} ({d:+d} frames): {what}"


def _write_vlen(ds, start: int, arrays: list[np.ndarray]) -> None:
    """Store uint8 arrays in rows start.. of a vlen dataset (h5py cannot broadcast a single one)."""
    if len({len(a) for a in arrays}) == 1:  # equal lengths: h5py would take them for one 2D array
        for k, a in enumerate(arrays):
            ds[start + k] = a
    elif arrays:
        ds[start:start + len(arrays)] = np.array(list(arrays) + [None], dtype=object)[:-1]


def _write_shard(tmp: Path, seq: Sequence, camera, jpgs: list[np.ndarray], idx: np.ndarray, j3d: np.ndarray,
                 j2d: np.ndarray, boxes: list[np.ndarray], warnings: list[str], lengths: tuple[int, int]) -> None:
    import h5py

    i_ = camera.intrinsics
    with h5py.File(tmp, "w") as f:
        ds = f.create_dataset("images", (len(jpgs),), dtype=h5py.vlen_dtype(np.uint8))
        _write_vlen(ds, 0, jpgs)
        f["joints3d"] = j3d[idx].astype(np.float32)
        f["joints2d"] = j2d[idx].astype(np.float32)
        f["crop_box"] = np.asarray(boxes, dtype=np.float32)
        f["frame"] = idx.astype(np.int32)
        f.attrs.update({
            "subject": seq.subject, "stem": seq.stem, "action": seq.action, "subaction": seq.subaction,
            "camera": seq.camera, "rows": len(jpgs), "warnings": json.dumps(warnings),
            "video_frames": lengths[0], "mocap_frames": lengths[1],
            "intrinsics": np.array([*i_.focal, *i_.center, *i_.radial, *i_.tangential], dtype=np.float64),
            "image_size": np.array([i_.width, i_.height], dtype=np.int32),
            "extrinsics": np.array([*camera.extrinsics.orientation, *camera.extrinsics.translation]),
        })


def _convert_task(args: tuple[Sequence, Path, PrepareOptions, Path]) -> SequenceResult:
    return convert_sequence(*args)


def _params(root: Path, opts: PrepareOptions) -> dict:
    return {"format": FORMAT, "version": VERSION, "root": str(root.resolve()), "crop_size": opts.crop_size,
            "margin": opts.margin, "frame_step": opts.frame_step, "jpeg_quality": opts.jpeg_quality,
            "keep_damaged": opts.keep_damaged}


def prepare_h36m(root: str | Path, out: str | Path, opts: PrepareOptions = PrepareOptions(),
                 progress: Callable[[SequenceResult, int, int], None] | None = None,
                 overwrite: bool = False) -> PrepareSummary:
    """Convert a release tree into the HDF5 file `out`; see the module docstring.

    progress(result, done, total) is called after each sequence (also for reused shards); an
    exception it raises stops the run, which a later call resumes.
    """
    root, out = Path(root), Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass overwrite (--overwrite) to rebuild it")
    sequences, problems = discover(root, opts.subjects, opts.cameras)
    damaged: list[Sequence] = []
    if not opts.keep_damaged:
        sequences, damaged = split_damaged(sequences)
    if not sequences:
        detail = f": {problems[0]}" if problems else ""
        if damaged:
            detail = f": only known damaged takes ({damaged_summary([d.name for d in damaged])}); --keep-damaged keeps them"
        raise FileNotFoundError(f"no convertible sequences under {root}{detail}")
    work = out.with_name(out.name + ".parts")
    work.mkdir(parents=True, exist_ok=True)
    with FolderLock(work / ".lock", f"output {out}"):  # one conversion per output at a time
        summary = _prepare_locked(root, out, work, sequences, problems, opts, progress, [d.name for d in damaged])
    return summary


def _prepare_locked(root: Path, out: Path, work: Path, sequences: list[Sequence], problems: list[str],
                    opts: PrepareOptions, progress: Callable[[SequenceResult, int, int], None] | None,
                    damaged: list[str]) -> PrepareSummary:
    params, pfile = _params(root, opts), work / "params.json"
    if pfile.exists() and json.loads(pfile.read_text()) != params:
        raise ValueError(f"{work} holds a conversion with other options "
                         f"({pfile.read_text().strip()}); delete it or rerun with the same options")
    atomic.write_json(pfile, params)
    results: list[SequenceResult] = []
    todo = []
    total = len(sequences)
    for seq in sequences:
        shard = _shard_path(work, seq)
        reused = _reused(seq, shard, problems) if shard.exists() else None
        if reused is not None:
            results.append(reused)
            if progress:
                progress(results[-1], len(results), total)
        else:
            todo.append((seq, root, opts, shard))
    if opts.workers == 1 or len(todo) <= 1:
        for task in todo:
            results.append(_convert_task(task))
            if progress:
                progress(results[-1], len(results), total)
    else:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(min(opts.workers, len(todo))) as pool:
            for res in pool.imap_unordered(_convert_task, todo):
                results.append(res)
                if progress:
                    progress(res, len(results), total)
    done = {r.name for r in results if r.status != "skipped"}
    shards = [_shard_path(work, s) for s in sequences if s.name in done]
    if not shards:
        raise ValueError(f"no sequence of {root} could be converted; first problem: "
                         f"{next((r.message for r in results if r.message), 'none')}")
    # on an error (e.g. a full disk) the shards stay for the next run and _merge leaves no stray file
    rows = _merge(shards, out, params, results, problems, damaged)
    shutil.rmtree(work, ignore_errors=True)
    order = {s.name: k for k, s in enumerate(sequences)}
    results.sort(key=lambda r: order[r.name])
    return PrepareSummary(out, rows, results, problems, damaged, opts.keep_damaged)


SHARD_DATASETS = ("images", "joints3d", "joints2d", "crop_box", "frame")


def _reused(seq: Sequence, shard: Path, problems: list[str]) -> SequenceResult | None:
    """The finished shard of `seq`, or None if it is damaged: then it is deleted (to be converted
    again) and a note naming it is added to `problems`."""
    import h5py

    try:
        with h5py.File(shard, "r") as f:
            rows = int(f.attrs["rows"])
            bad = [k for k in SHARD_DATASETS if k not in f or len(f[k]) != rows]
            if bad:
                raise ValueError(f"dataset {bad[0]} missing or not {rows} rows")
            return SequenceResult(seq.name, "reused", rows, warnings=json.loads(f.attrs["warnings"]),
                                  video_frames=int(f.attrs.get("video_frames", -1)),
                                  mocap_frames=int(f.attrs.get("mocap_frames", -1)))
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError... for damaged files
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        problems.append(f"damaged shard {shard} ({detail}): removed and converted again")
        shard.unlink(missing_ok=True)
        return None


# The schema's per-row datasets besides `images` (docs/data.md): name -> (per-row shape, dtype).
# Every writer of the format (prepare-h36m, the Anny renderer, movnect label) creates them here.
ROW_COLUMNS: dict[str, tuple[tuple[int, ...], type]] = {
    "joints3d": ((17, 3), np.float32), "joints2d": ((17, 2), np.float32), "crop_box": ((3,), np.float32),
    "intrinsics": ((9,), np.float64), "extrinsics": ((7,), np.float64), "image_size": ((2,), np.int32),
    "frame": ((), np.int32), "subject": ((), np.int16), "action": ((), np.int16), "subaction": ((), np.int16),
    "camera": ((), np.int16), "sequence": ((), np.int32),
}


def create_rows(f, total: int, extra: dict[str, tuple[tuple[int, ...], type]] | None = None):
    """Create `images` (vlen JPEG bytes, chunks of 256 rows) and the ROW_COLUMNS (+ `extra`)
    for `total` rows in an open h5py file; returns (images dataset, {name: dataset})."""
    import h5py

    images = f.create_dataset("images", (total,), dtype=h5py.vlen_dtype(np.uint8), chunks=(max(1, min(total, 256)),))
    cols = {**ROW_COLUMNS, **(extra or {})}
    return images, {k: f.create_dataset(k, (total,) + shape, dtype=dt) for k, (shape, dt) in cols.items()}


def finish_file(f, names: dict[str, list[str]], attrs: dict) -> None:
    """Write the `names/*` tables and the attributes (format, version, rows, created + attrs),
    then `complete` last: a file without it is never taken for a finished one."""
    import h5py

    string = h5py.string_dtype()
    for name, values in names.items():
        f.create_dataset(f"names/{name}", data=np.array(values, dtype=object), dtype=string)
    f.attrs.update({"format": FORMAT, "version": VERSION, "rows": int(f["images"].shape[0]),
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S"), **attrs})
    f.attrs["complete"] = True


def _merge(shards: list[Path], out: Path, params: dict, results: list[SequenceResult],
           problems: list[str], damaged: list[str]) -> int:
    """Concatenate shards (in sequence order) into out.partial, mark it complete, rename to out."""
    import h5py

    metas = []
    for p in shards:
        with h5py.File(p, "r") as f:
            metas.append({k: f.attrs[k] for k in f.attrs})
    subjects = sorted({str(m["subject"]) for m in metas}, key=subject_key)
    cameras = list(dict.fromkeys(str(m["camera"]) for m in metas))
    from movnect.camera import h36m_camera_ids

    cameras = [c for c in h36m_camera_ids() if c in cameras] + [c for c in cameras if c not in h36m_camera_ids()]
    seq_names = list(dict.fromkeys(f"{m['subject']}/{m['stem']}" for m in metas))
    total = int(sum(int(m["rows"]) for m in metas))
    with atomic.atomic_path(out, temp=out.with_name(out.name + ".partial")) as tmp, h5py.File(tmp, "w") as f:
        images, ds = create_rows(f, total)
        a = 0
        for p, m in zip(shards, metas):
            with h5py.File(p, "r") as s:
                n = int(m["rows"])
                b = a + n
                _write_vlen(images, a, list(s["images"][...]))
                for k in ("joints3d", "joints2d", "crop_box", "frame"):
                    ds[k][a:b] = s[k][...]
            ds["intrinsics"][a:b] = m["intrinsics"]
            ds["extrinsics"][a:b] = m["extrinsics"]
            ds["image_size"][a:b] = m["image_size"]
            ds["subject"][a:b] = subjects.index(str(m["subject"]))
            ds["action"][a:b] = ACTIONS.index(str(m["action"]))
            ds["subaction"][a:b] = int(m["subaction"])
            ds["camera"][a:b] = cameras.index(str(m["camera"]))
            ds["sequence"][a:b] = seq_names.index(f"{m['subject']}/{m['stem']}")
            a = b
        finish_file(f, {"subjects": subjects, "actions": list(ACTIONS), "cameras": cameras,
                        "sequences": seq_names}, {
            "options": json.dumps(params), "crop_size": params["crop_size"], "frame_step": params["frame_step"],
            "margin": params["margin"],
            "skipped": json.dumps([r.message for r in results if r.status == "skipped"] + problems),
            "warnings": json.dumps([w for r in results for w in r.warnings]),
            # which variant of the data this is: known damaged takes left out (their names) or kept
            "damaged": json.dumps({"variant": "kept" if params["keep_damaged"] else "excluded", "left_out": damaged}),
        })
    return total


def open_h36m(path: str | Path):  # -> h5py.File
    """Open a prepared file read-only; ValueError unless it is a complete prepare-h36m file."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"HDF5 dataset not found: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path} is not a readable HDF5 file ({exc})") from None
    if f.attrs.get("format") != FORMAT or not bool(f.attrs.get("complete", False)):
        f.close()
        raise ValueError(f"{path} is not a complete prepare-h36m file (interrupted conversion?); "
                         "re-run `movnect prepare-h36m` to finish it")
    return f


def summary_dict(summary: PrepareSummary) -> dict:
    """JSON-friendly summary (for the CLI's --json and logs)."""
    return {"out": str(summary.out), "rows": summary.rows, "converted": summary.count("converted"),
            "reused": summary.count("reused"), "skipped": summary.count("skipped"),
            "damaged": {"variant": "kept" if summary.keep_damaged else "excluded", "left_out": summary.damaged},
            "small_length_mismatches": summary.small_mismatches(),
            "results": [asdict(r) for r in summary.results], "problems": summary.problems}
