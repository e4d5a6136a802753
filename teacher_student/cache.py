"""Teacher-output cache: the frozen teacher's maps (and feature) per dataset row, in one HDF5 file.

A distillation run otherwise pays the teacher's forward pass on every batch of every epoch.
The cache stores it once per dataset row:

    /rows      (M,)            int64, sorted: the dataset rows (sample["index"]) held
    /maps      (M, 4J, h, w)   float16 teacher maps [H | X | Y | Z] (codec layout and units)
    /feature   (M, C, h2, w2)  float16 teacher stride-16 feature (only if built with features;
                               DWPose's feature loss needs it, mimicry does not)
    attrs      format, teacher_sha256, teacher (path), codec (JSON), teacher_model (JSON),
               input_size, has_feature, data_file (path), data_identity (JSON, see below)

Rows are keys into ONE data file, so the cache records that file's identity (`data_identity`:
size, mtime, row count, crop size and a SHA-256 of its index columns) and a run whose data
file differs in any of them is refused with one line naming both files: a cache built on one
HDF5 file is never served for another that merely has the same row numbers. (A copy that keeps
size and mtime, `cp -p`, is accepted; anything else means rebuilding, the safe side.)

float16 keeps heatmaps to ~5e-4 and location maps to ~1e-3 units (0.1 mm at 100 mm per unit).

When the cache is valid. The teacher's output on an augmented crop is NOT a transform of its
output on the plain crop: scale/rotation resampling blurs the maps and the in-plane rotation
also rotates the 3D targets, colour jitter changes what the teacher sees, and even a flip
(exact on encoded targets through codec.flip_maps) is not exact for a network, which is not
flip-equivariant. A cache keyed per (row, augmentation seed) would not help either: the
training loop draws new seeds every epoch. So the cache holds the teacher's outputs on the
un-augmented crops, and a run may use it only when its training samples are un-augmented;
`movnect distill` refuses a cache when augmentation is on (and runs the teacher live instead
when asked without a cache). Samples whose row is not in the cache (2D-only data, index -1)
get the live teacher; see `CachedTeacherDataset`.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from movnect import atomic
from movnect.codec import Codec

FORMAT = "movnect-teacher-cache/2"
OLD_FORMATS = ("movnect-teacher-cache/1",)  # no data identity: refused, rebuild
INDEX_COLUMNS = ("subject", "action", "subaction", "camera", "sequence", "frame")
IDENTITY_FIELDS = ("size", "mtime_ns", "rows", "crop_size", "index_sha256")


class CacheError(ValueError):
    """A teacher cache that is missing, malformed or does not match the run."""


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file (the teacher checkpoint's identity)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def data_identity(path: str | Path) -> dict:
    """Identity of a prepared HDF5 data file: {path, size, mtime_ns, rows, crop_size, index_sha256}.

    rows: the file's row count; index_sha256: SHA-256 over the index columns (INDEX_COLUMNS that
    the file has, in that order, raw bytes) and their names. CacheError if unreadable.
    """
    path = Path(path)
    try:
        st = path.stat()
        h = hashlib.sha256()
        with h5py.File(path, "r") as f:
            crop = int(f.attrs["crop_size"])
            rows = int(f["frame"].shape[0])
            for name in INDEX_COLUMNS:
                if name in f:
                    h.update(name.encode())
                    h.update(np.ascontiguousarray(f[name][()]).tobytes())
    except (OSError, KeyError) as exc:
        raise CacheError(f"data file {path} has no readable identity for the teacher cache ({exc})") from None
    return {"path": str(path.resolve()), "size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns), "rows": rows,
            "crop_size": crop, "index_sha256": h.hexdigest()}


def _show(identity: dict) -> str:
    return ", ".join(f"{k} {identity.get(k)}" for k in IDENTITY_FIELDS if k != "index_sha256") + \
        f", index {str(identity.get('index_sha256'))[:12]}"


@torch.no_grad()
def build_cache(path: str | Path, teacher: nn.Module, teacher_path: str | Path, teacher_model: dict,
                codec: Codec, dataset: Dataset, *, data_file: str | Path, include_feature: bool, batch_size: int = 32,
                device: torch.device | str = "cpu", workers: int = 0,
                progress: Callable[[int, int], None] | None = None) -> Path:
    """Run the frozen teacher once over `dataset` (un-augmented samples) and write the cache.

    Args:
        path: output .h5 file (written to a temporary name, then renamed).
        teacher: the teacher network; put in eval mode here.
        teacher_path: its checkpoint file (hashed into the cache's identity).
        teacher_model: the teacher's ModelConfig as a dict (recorded).
        codec: the codec shared by teacher and student.
        dataset: yields the sample dict of docs/architecture.md; rows are sample["index"] (>= 0).
        data_file: the HDF5 file whose rows those are (its identity is recorded, see data_identity).
        include_feature: also store the stride-16 feature (DWPose).
        progress: optional callback(done, total).
    Returns:
        the path written.
    """
    path = Path(path)
    identity = data_identity(data_file)  # before the slow pass: an unreadable file fails now
    path.parent.mkdir(parents=True, exist_ok=True)
    teacher.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    n = len(dataset)  # type: ignore[arg-type]
    rows, written = np.empty(n, np.int64), 0
    # fsync, ordinary mode, rename; removed on any error (an empty dataset, Ctrl-C)
    with atomic.atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            maps_ds = feat_ds = None
            for batch in loader:
                idx = batch["index"].numpy().astype(np.int64)
                if (idx < 0).any():
                    raise CacheError("build_cache: samples without a dataset row (index -1) cannot be cached")
                out = teacher(batch["image"].to(device))
                maps = out.maps.float().cpu().numpy().astype(np.float16)
                if maps_ds is None:
                    maps_ds = f.create_dataset("maps", (n, *maps.shape[1:]), np.float16, chunks=(1, *maps.shape[1:]))
                    if include_feature:
                        fs = tuple(out.feature.shape[1:])
                        feat_ds = f.create_dataset("feature", (n, *fs), np.float16, chunks=(1, *fs))
                k = len(idx)
                maps_ds[written : written + k] = maps
                if feat_ds is not None:
                    feat_ds[written : written + k] = out.feature.float().cpu().numpy().astype(np.float16)
                rows[written : written + k] = idx
                written += k
                if progress is not None:
                    progress(written, n)
            if written == 0:
                raise CacheError("build_cache: the dataset is empty")
            order = np.argsort(rows, kind="stable")
            if np.any(np.diff(rows[order]) == 0):
                raise CacheError("build_cache: the dataset repeats a row; cache keys must be unique")
            f.create_dataset("rows", data=rows)
            f.create_dataset("order", data=order.astype(np.int64))  # position of the i-th smallest row
            f.attrs.update({
                "format": FORMAT, "teacher": str(teacher_path), "teacher_sha256": file_sha256(teacher_path),
                "codec": json.dumps(codec.to_dict()), "teacher_model": json.dumps(teacher_model),
                "input_size": codec.config.input_size, "has_feature": bool(include_feature),
                "data_file": str(data_file), "data_identity": json.dumps(identity),
            })
    return path


class TeacherCache:
    """Read side of the cache. Opens the file lazily (safe across DataLoader worker forks)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise CacheError(f"teacher cache not found: {self.path}")
        try:
            with h5py.File(self.path, "r") as f:
                attrs = dict(f.attrs)
                rows = f["rows"][()]
                order = f["order"][()]
                self.maps_shape = tuple(f["maps"].shape[1:])
                self.feature_shape = tuple(f["feature"].shape[1:]) if "feature" in f else None
        except (OSError, KeyError) as exc:
            raise CacheError(f"teacher cache {self.path} is unreadable ({exc})") from None
        if attrs.get("format") in OLD_FORMATS:
            raise CacheError(f"teacher cache {self.path} predates data-file identities (format {attrs['format']}); "
                             "rebuild it with --build-cache")
        if attrs.get("format") != FORMAT:
            raise CacheError(f"{self.path} is not a teacher cache (expected format {FORMAT})")
        self.attrs = attrs
        self.sorted_rows = rows[order]
        self.order = order
        self._file: h5py.File | None = None

    def __len__(self) -> int:
        return len(self.sorted_rows)

    @property
    def has_feature(self) -> bool:
        return self.feature_shape is not None

    def check_matches(self, teacher_path: str | Path, codec: Codec, need_feature: bool,
                      data_file: str | Path) -> None:
        """CacheError (one line) unless the cache was built by this teacher file with this codec
        on this data file (data_identity: size, mtime, rows, crop size, index columns)."""
        built = json.loads(self.attrs["data_identity"])
        now = data_identity(data_file)
        diff = [k for k in IDENTITY_FIELDS if built.get(k) != now.get(k)]
        if diff:
            raise CacheError(f"teacher cache {self.path} was built on data file {self.attrs['data_file']} "
                             f"({_show(built)}) but this run reads {data_file} ({_show(now)}); "
                             f"they differ in {', '.join(diff)}: rebuild the cache with --build-cache")
        if self.attrs["teacher_sha256"] != file_sha256(teacher_path):
            raise CacheError(f"teacher cache {self.path} was built from another teacher "
                             f"({self.attrs['teacher']}); rebuild it for {teacher_path}")
        if json.loads(self.attrs["codec"]) != codec.to_dict():
            raise CacheError(f"teacher cache {self.path} was built with another codec; rebuild it")
        if need_feature and not self.has_feature:
            raise CacheError(f"teacher cache {self.path} holds no features (DWPose needs them); "
                             "rebuild it with features")

    def position(self, row: int) -> int:
        """Position of dataset `row` in the file, or -1 when it is not cached."""
        i = int(np.searchsorted(self.sorted_rows, row))
        if i < len(self.sorted_rows) and self.sorted_rows[i] == row:
            return int(self.order[i])
        return -1

    def read(self, row: int) -> tuple[Tensor, Tensor | None] | None:
        """(maps (4J, h, w) float32, feature (C, h2, w2) float32 or None) of `row`, None if absent."""
        pos = self.position(row)
        if pos < 0:
            return None
        if self._file is None:
            self._file = h5py.File(self.path, "r")
        maps = torch.from_numpy(self._file["maps"][pos].astype(np.float32))
        feat = torch.from_numpy(self._file["feature"][pos].astype(np.float32)) if self.has_feature else None
        return maps, feat

    def __getstate__(self) -> dict:  # h5py handles do not survive pickling to workers
        state = dict(self.__dict__)
        state["_file"] = None
        return state


class CachedTeacherDataset(Dataset):
    """Adds the cached teacher outputs to each sample of `dataset`.

    Extra keys: teacher_maps (4J, h, w), teacher_feature (C, h2, w2) when the cache has
    features (zeros when missing), teacher_cached () float32 1 if the row was in the cache. The
    trainer runs the live teacher for samples with teacher_cached 0.
    """

    def __init__(self, dataset: Dataset, cache: TeacherCache) -> None:
        self.dataset, self.cache = dataset, cache

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        sample = dict(self.dataset[index])
        hit = self.cache.read(int(sample["index"]))
        if hit is None:
            sample["teacher_maps"] = torch.zeros(self.cache.maps_shape)
            feat = torch.zeros(self.cache.feature_shape) if self.cache.has_feature else None
        else:
            sample["teacher_maps"], feat = hit
        if feat is not None:
            sample["teacher_feature"] = feat
        sample["teacher_cached"] = torch.tensor(0.0 if hit is None else 1.0)
        return sample
