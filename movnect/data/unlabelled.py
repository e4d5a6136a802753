"""Unlabelled person crops from footage (`movnect crops`), for label-free distillation.

Each input (a video file, or a folder of images) is read frame by frame (every `frame_step`-th);
the BlazePose person detector (`movnect.blazepose.pose.PersonFinder`: whole frame plus square
tiles of wide frames) finds the people, and the `max_people` most confident whose box side is at
least `min_side` px are cut out as square crops framed like the training crops
(`movnect.blazepose.pose.person_box`: centred on the mid-hip, side 2.5 x the body-circle radius
x DETECTOR_BOX_SCALE, the training crops' 1.4 x joint extent in the median over rendered people), resampled to
`crop_size` px and stored as JPEG. No label of any kind is written: on these rows only a teacher
can supervise (MoVNect mimicry / DWPose terms, `movnect distill`), see `UnlabelledCrops`.

File (attrs `format` = FORMAT, `complete`, `rows`, `crop_size`, `source`, `options`, `skipped`):
    images      (N,)     vlen uint8   JPEG crops (RGB encoded as BGR JPEG, like prepare-h36m)
    crop_box    (N, 3)   float32      x0, y0, side of the crop in image pixels
    frame       (N,)     int32        frame index in its input
    sequence    (N,)     int32        index into names/sequences (one per input: its file name)
    image_size  (N, 2)   int32        width, height of the frame
    score       (N,)     float32      detector score

Resumable: one shard per input in `<out>.parts/`, written atomically and reused by a re-run
with the same options; the merged file is renamed into place last.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from movnect import atomic, skeleton
from movnect.camera import crop_image
from movnect.codec import Codec
from movnect.data.dataset import augmentation_rng, fit_crop
from movnect.data.pseudo_label import check_inputs, read_frames
from movnect.data.transforms import NO_AUGMENT, AugmentConfig, augment

FORMAT = "movnect-unlabelled-crops"
SOURCE = "unlabelled:blazepose-detector"


@dataclass(frozen=True)
class CropOptions:
    crop_size: int = 256          # stored crop side, px (resampled to the codec's input size when read)
    frame_step: int = 1           # every n-th frame of a video / image of a folder
    max_people: int = 1           # crops per frame, most confident detections first
    min_score: float = 0.5        # detector score threshold
    min_side: float = 48.0        # person boxes with a smaller side (image px) are skipped
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        if self.crop_size < 8 or self.frame_step < 1 or self.max_people < 1 or not 0 < self.min_score < 1 \
                or self.min_side < 0 or not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"need crop_size >= 8, frame_step >= 1, max_people >= 1, 0 < min_score < 1, "
                             f"min_side >= 0, 1 <= jpeg_quality <= 100; got {self}")


@dataclass
class CropResult:
    name: str
    status: str                   # "cropped" | "reused" | "skipped" (nobody found)
    rows: int = 0
    frames: int = 0
    dropped: dict[str, int] = field(default_factory=dict)   # no_person, small (frames / boxes)
    message: str = ""


@dataclass
class CropSummary:
    out: Path
    rows: int
    results: list[CropResult]


def crop_input(path: Path, opts: CropOptions, shard: Path,
               progress: Callable[[int], None] | None = None) -> CropResult:
    """Detect and crop the people of one input into a shard file (atomically).

    Raises ValueError (one line, naming the file) for an unreadable video or image or a folder
    without images; an input in which nobody is found gives status 'skipped'."""
    import h5py

    from movnect.blazepose.pose import PersonFinder, person_box

    cv2.setNumThreads(1)
    finder = PersonFinder(threads=1, min_score=opts.min_score)
    cols: dict[str, list] = {k: [] for k in ("images", "crop_box", "frame", "image_size", "score")}
    dropped = {"no_person": 0, "small": 0}
    frames = 0
    for i, frame in read_frames(path, opts.frame_step):
        frames += 1
        if progress and frames % 10 == 0:
            progress(frames)
        found = finder.find(frame)
        if not found:
            dropped["no_person"] += 1
            continue
        kept = 0
        for det in found:
            if kept == opts.max_people:
                break
            box = person_box(det)
            if box.side < opts.min_side:
                dropped["small"] += 1
                continue
            crop = crop_image(frame, box, opts.crop_size)
            ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, opts.jpeg_quality])
            if not ok:
                raise ValueError(f"{path}: frame {i} could not be JPEG-encoded")
            cols["images"].append(np.frombuffer(jpg.tobytes(), dtype=np.uint8))
            cols["crop_box"].append(box.as_array())
            cols["frame"].append(i)
            cols["image_size"].append([frame.shape[1], frame.shape[0]])
            cols["score"].append(det.score)
            kept += 1
    n = len(cols["images"])
    if n == 0:
        return CropResult(path.name, "skipped", frames=frames, dropped=dropped,
                          message=f"{path}: no person found in {frames} frames")
    tmp = shard.with_name(shard.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        _write_columns(f, cols)
        f.attrs.update({"name": path.name, "rows": n, "frames": frames, "dropped": json.dumps(dropped)})
    atomic.commit(tmp, shard)
    return CropResult(path.name, "cropped", n, frames, dropped)


DTYPES = {"crop_box": np.float32, "frame": np.int32, "image_size": np.int32, "score": np.float32}


def _write_columns(f, cols: dict[str, list]) -> None:
    import h5py

    n = len(cols["images"])
    ds = f.create_dataset("images", (n,), dtype=h5py.vlen_dtype(np.uint8), chunks=(max(1, min(n, 256)),))
    for r, jpg in enumerate(cols["images"]):
        ds[r] = jpg
    for key, dt in DTYPES.items():
        f[key] = np.asarray(cols[key], dtype=dt)


def crop_inputs(inputs: list[str | Path], out: str | Path, opts: CropOptions = CropOptions(),
                progress: Callable[[CropResult, int, int], None] | None = None,
                frame_progress: Callable[[str, int], None] | None = None,
                overwrite: bool = False) -> CropSummary:
    """Crop the people of every input into the HDF5 file `out` (see the module docstring).

    Raises FileNotFoundError / FileExistsError / ValueError (one line) for a missing input, an
    existing output without `overwrite`, an unreadable input, or when nobody is found at all."""
    out = Path(out)
    paths = check_inputs(inputs, out, overwrite)
    from movnect import assets

    assets.asset_path("pose_detection")  # a clear error before any work when not fetched
    work = out.with_name(out.name + ".parts")
    work.mkdir(parents=True, exist_ok=True)
    params = asdict(opts)
    pfile = work / "params.json"
    if pfile.exists() and json.loads(pfile.read_text()) != params:
        raise ValueError(f"{work} holds crops made with other options ({pfile.read_text().strip()}); "
                         "delete it or rerun with the same options")
    atomic.write_text(pfile, json.dumps(params))
    results: list[CropResult] = []
    shards = [work / f"{k:04d}__{p.name}.h5" for k, p in enumerate(paths)]
    for p, s in zip(paths, shards):
        if s.exists():
            results.append(_reused(s))
        else:
            fp = (lambda n, name=p.name: frame_progress(name, n)) if frame_progress else None
            results.append(crop_input(p, opts, s, fp))
        if progress:
            progress(results[-1], len(results), len(paths))
    kept = [(s, r) for s, r in zip(shards, results) if r.status != "skipped"]
    if not kept:
        raise ValueError(f"no person found in any input; first: {results[0].message}")
    rows = _merge([s for s, _ in kept], [r.name for _, r in kept], out, params, results)
    shutil.rmtree(work, ignore_errors=True)
    return CropSummary(out, rows, results)


def _reused(shard: Path) -> CropResult:
    import h5py

    with h5py.File(shard, "r") as f:
        return CropResult(str(f.attrs["name"]), "reused", int(f.attrs["rows"]), int(f.attrs["frames"]),
                          json.loads(f.attrs["dropped"]))


def _merge(shards: list[Path], names: list[str], out: Path, params: dict, results: list[CropResult]) -> int:
    import h5py

    cols: dict[str, list] = {k: [] for k in ("images", "sequence", *DTYPES)}
    for k, s in enumerate(shards):
        with h5py.File(s, "r") as f:
            cols["images"] += list(f["images"][...])
            for key in DTYPES:
                cols[key] += list(f[key][...])
            cols["sequence"] += [k] * int(f.attrs["rows"])
    tmp = out.with_name(out.name + ".partial")
    with h5py.File(tmp, "w") as f:
        _write_columns(f, cols)
        f["sequence"] = np.asarray(cols["sequence"], dtype=np.int32)
        f.create_dataset("names/sequences", data=np.array(names, dtype=object), dtype=h5py.string_dtype())
        f.attrs.update({"format": FORMAT, "rows": len(cols["images"]), "crop_size": params["crop_size"],
                        "source": SOURCE, "options": json.dumps(params),
                        "skipped": json.dumps([r.message for r in results if r.status == "skipped"])})
        f.attrs["complete"] = True
    atomic.commit(tmp, out)
    return len(cols["images"])


def write_crops(path: str | Path, crops: np.ndarray, crop_size: int | None = None) -> Path:
    """Write (N, S, S, 3) uint8 RGB crops as an unlabelled-crops file (boxes = the whole crop,
    frame = row, one sequence): for crops made elsewhere, and for tests."""
    import h5py

    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[1] != crops.shape[2] or crops.shape[3] != 3 or crops.dtype != np.uint8:
        raise ValueError(f"write_crops: expected (N, S, S, 3) uint8 crops, got {crops.shape} {crops.dtype}")
    n, s = crops.shape[:2]
    cols: dict[str, list] = {
        "images": [np.frombuffer(cv2.imencode(".jpg", cv2.cvtColor(c, cv2.COLOR_RGB2BGR))[1].tobytes(), np.uint8)
                   for c in crops],
        "crop_box": [[0.0, 0.0, float(s)]] * n, "frame": list(range(n)), "image_size": [[s, s]] * n,
        "score": [1.0] * n}
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    with h5py.File(tmp, "w") as f:
        _write_columns(f, cols)
        f["sequence"] = np.zeros(n, dtype=np.int32)
        f.create_dataset("names/sequences", data=np.array(["crops"], dtype=object), dtype=h5py.string_dtype())
        f.attrs.update({"format": FORMAT, "rows": n, "crop_size": crop_size or s, "source": "unlabelled:given",
                        "options": "{}", "skipped": "[]"})
        f.attrs["complete"] = True
    atomic.commit(tmp, path)
    return path


def open_crops(path: str | Path):  # -> h5py.File
    """Open an unlabelled-crops file read-only; ValueError (one line) unless it is a complete one."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"unlabelled crops file not found: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path} is not a readable HDF5 file ({exc})".replace("\n", " ")) from None
    if f.attrs.get("format") != FORMAT or not bool(f.attrs.get("complete", False)):
        f.close()
        raise ValueError(f"{path} is not a complete `movnect crops` file (format {FORMAT!r})")
    return f


class UnlabelledCrops(Dataset):
    """Rows of a `movnect crops` file as training samples that carry no label.

    Items are the sample dict of docs/architecture.md with every label term switched off:
    heatmaps (J, h, w), location maps (3J, h, w), joints2d (J, 2) and joints3d (J, 3) all zero,
    mask2d (J,) zero, has3d 0, index / action / subject / camera -1 (no dataset row: a teacher
    cache never holds them, the live teacher runs). So the supervised terms (PoseLoss) are zero
    on them and only teacher terms act (mimicry: the teacher heatmap and location terms with
    weight 1; DWPose: feature, logit and location terms).

    Args:
        path: the file. codec: its input_size is the crop size the network sees.
        augment: augmentation settings (the image only: there are no joints to move).
        seed: base seed of the augmentation, or None to draw from numpy's global RNG.
    """

    def __init__(self, path: str | Path, codec: Codec, augment_cfg: AugmentConfig = NO_AUGMENT,
                 seed: int | None = 0) -> None:
        self.path, self.codec, self.augment, self.seed = Path(path), codec, augment_cfg, seed
        with open_crops(self.path) as f:
            self.n = int(f.attrs["rows"])
        self.epoch = 0
        self._file = None
        self._pid = -1

    def __len__(self) -> int:
        return self.n

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_file"], state["_pid"] = None, -1  # never pickle an open h5py handle
        return state

    def image(self, i: int) -> np.ndarray:
        """Un-augmented crop i: (S, S, 3) uint8 RGB at the codec's input size."""
        if self._file is None or self._pid != os.getpid():
            self._file, self._pid = open_crops(self.path), os.getpid()
        bgr = cv2.imdecode(np.asarray(self._file["images"][i], dtype=np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{self.path}: row {i} holds an unreadable JPEG")
        return cv2.cvtColor(fit_crop(bgr, self.codec.config.input_size), cv2.COLOR_BGR2RGB)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not 0 <= i < self.n:
            raise IndexError(f"index {i} out of range for {self.n} samples")
        j, m = skeleton.NUM_JOINTS, self.codec.map_size
        zeros2, zeros3, mask = np.zeros((j, 2)), np.zeros((j, 3)), np.zeros(j)
        image, *_ = augment(self.image(i), zeros2, zeros3, mask, self.augment,
                            augmentation_rng(self.seed, self.epoch, i))
        img_t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
        minus_one = torch.tensor(-1, dtype=torch.int64)
        return {
            "image": self.codec.normalize(img_t)[0],
            "heatmaps": torch.zeros(j, m, m),
            "locmaps": torch.zeros(3 * j, m, m),
            "joints2d": torch.zeros(j, 2),
            "joints3d": torch.zeros(j, 3),
            "mask2d": torch.zeros(j),
            "has3d": torch.tensor(0.0),
            "index": minus_one,
            "action": minus_one.clone(),
            "subject": minus_one.clone(),
            "camera": minus_one.clone(),
        }

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
