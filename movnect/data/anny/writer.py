"""Rendered Anny rows straight into the training HDF5 schema of prepare-h36m (docs/data.md).

`synthesize(out, SynthOptions(rows=N, seed=S))` renders ceil(N / frames) sequences (render.py)
and writes the same datasets and attributes as `movnect prepare-h36m`, so `open_h36m`,
`H36MDataset`, `movnect train` and `movnect eval` read the file unchanged. Differences, all
additive: `names/actions` lists the 15 actions plus `Random`; `names/cameras` are the camera
kinds (`webcam`, `phone`, the four Human3.6M ids); intrinsics carry zero distortion (pinhole
renders); extra datasets `in_frame` (N, 17) uint8 (joint inside the camera image), `source`
(N,) int8 (1 = rendered by Anny; attribute `source_names`), `names/sequence_meta` (JSON per
sequence: phenotype, outfit, motion, camera); file attribute `source` = "anny".

Parallel and resumable like prepare-h36m: sequences are grouped into shards of
`shard_sequences`, each written by one worker process to `OUT.parts/shard_XXXXX.h5`
(temporary name, then an atomic rename); a re-run with the same options reuses finished
shards; `OUT.parts/params.json` refuses other options; the merge goes to `OUT.partial`, gets
`complete = True` last and is renamed to OUT. Deterministic per seed: sequence i depends only
on (seed, i), not on the number of workers or on interruptions (tested).
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from movnect.data.anny.motion import MOTIONS
from movnect.data.anny.render import SUBJECTS, RenderOptions
from movnect.data.anny.scene import CAMERA_KINDS
from movnect import atomic
from movnect.data.h36m import FORMAT, VERSION, create_rows, finish_file
from movnect.data.h36m_release import subject_key

ROW_FIELDS = ("joints3d", "joints2d", "crop_box", "in_frame", "intrinsics", "extrinsics", "image_size", "frame")


@dataclass(frozen=True)
class SynthOptions:
    rows: int
    seed: int = 0
    crop_size: int = 256
    frames: int = 8               # rows per sequence (one body, motion, camera, room)
    margin: float = 0.2
    workers: int = 1
    shard_sequences: int = 16
    msaa: int = 4

    def __post_init__(self) -> None:
        if self.rows < 1 or self.workers < 1 or self.shard_sequences < 1:
            raise ValueError(f"need rows >= 1, workers >= 1, shard_sequences >= 1; got {self}")
        RenderOptions(self.crop_size, self.frames, self.margin, self.msaa)  # validates the rest

    @property
    def sequences(self) -> int:
        return math.ceil(self.rows / self.frames)

    def params(self) -> dict:
        from movnect.data.anny.photos import load_photos

        p = asdict(self)
        p.pop("workers")
        # the photos available change the rooms: a resumed run must have the same ones
        return {"format": FORMAT, "version": VERSION, "renderer": "anny", "photos": list(load_photos()[0]), **p}


_RENDERER = None


def _init_worker(opts: RenderOptions) -> None:
    """Worker process set-up: one thread each for torch, OpenCV and llvmpipe, one renderer."""
    global _RENDERER
    os.environ["LP_NUM_THREADS"] = "1"
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    from movnect.data.anny.render import SequenceRenderer

    _RENDERER = SequenceRenderer(opts)


def _render_shard(task: tuple[int, list[int], Path]) -> tuple[int, dict]:
    """Render one shard's sequences and write it; returns (sequences, seconds spent per stage)."""
    seed, indices, shard = task
    t, cpu = dict(_RENDERER.timing), time.process_time()
    write_shard(shard, [_RENDERER.render(seed, i) for i in indices])
    spent = {k: _RENDERER.timing[k] - t[k] for k in t}
    spent["cpu"] = time.process_time() - cpu  # this worker's CPU time (all its threads), load-independent
    return len(indices), spent


def write_shard(path: Path, sequences: list[dict]) -> None:
    """Write rendered sequences (render.SequenceRenderer.render outputs) as one shard, atomically."""
    import h5py

    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        jpgs = [j for s in sequences for j in s["jpeg"]]
        ds = f.create_dataset("images", (len(jpgs),), dtype=h5py.vlen_dtype(np.uint8))
        ds[...] = np.array(jpgs + [None], dtype=object)[:-1]
        for k in ROW_FIELDS:
            f[k] = np.concatenate([s[k] for s in sequences])
        f["seq_rows"] = np.array([len(s["jpeg"]) for s in sequences], dtype=np.int32)
        f.attrs["meta"] = json.dumps([s["meta"] for s in sequences])
    atomic.commit(tmp, path)  # fsync before the rename, like every shard of the project


def synthesize(out: str | Path, opts: SynthOptions, progress: Callable[[int, int], None] | None = None,
               overwrite: bool = False) -> dict:
    """Render `opts.rows` rows into the HDF5 file `out` (module docstring). Returns a summary dict.

    progress(done_rows, total_rows) is called after each shard (also reused ones); an exception
    it raises (e.g. KeyboardInterrupt) stops the run, which a later call resumes.
    """
    from movnect.data.anny import require

    require()
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass overwrite (--overwrite) to rebuild it")
    work = out.with_name(out.name + ".parts")
    work.mkdir(parents=True, exist_ok=True)
    pfile, params = work / "params.json", opts.params()
    if pfile.exists() and json.loads(pfile.read_text()) != params:
        raise ValueError(f"{work} holds a run with other options ({pfile.read_text().strip()}); "
                         "delete it or rerun with the same options")
    pfile.write_text(json.dumps(params))
    t0 = time.perf_counter()
    n_seq, per = opts.sequences, opts.shard_sequences
    shards = [(k, list(range(k * per, min((k + 1) * per, n_seq)))) for k in range(math.ceil(n_seq / per))]
    paths = {k: work / f"shard_{k:05d}.h5" for k, _ in shards}
    total = n_seq * opts.frames
    done = sum(len(ix) * opts.frames for k, ix in shards if paths[k].exists())
    reused = sum(1 for k, _ in shards if paths[k].exists())
    if progress:
        progress(done, total)
    todo = [(opts.seed, ix, paths[k]) for k, ix in shards if not paths[k].exists()]
    ropts = RenderOptions(opts.crop_size, opts.frames, opts.margin, opts.msaa)
    timing = {"body": 0.0, "raster": 0.0, "compositing": 0.0, "encode": 0.0, "samples": 0, "cpu": 0.0}

    def account(spent: dict, n: int) -> None:
        nonlocal done
        for k in timing:
            timing[k] += spent[k]
        done += n * opts.frames
        if progress:
            progress(done, total)

    if opts.workers == 1 or len(todo) <= 1:
        import torch

        threads = torch.get_num_threads()
        env = os.environ.get("LP_NUM_THREADS")
        try:
            _init_worker(ropts)
            for task in todo:
                n, spent = _render_shard(task)
                account(spent, n)
        finally:
            torch.set_num_threads(threads)
            if env is None:
                os.environ.pop("LP_NUM_THREADS", None)
            else:
                os.environ["LP_NUM_THREADS"] = env
            _close_worker()
    else:
        import multiprocessing as mp

        from movnect.data.anny.body import ensure_cache

        ensure_cache()  # before the workers: they would all build it at once otherwise
        with mp.get_context("spawn").Pool(min(opts.workers, len(todo)), _init_worker, (ropts,)) as pool:
            for n, spent in pool.imap_unordered(_render_shard, todo):
                account(spent, n)
    seconds = time.perf_counter() - t0
    rows = _merge([paths[k] for k, _ in shards], out, opts)
    shutil.rmtree(work, ignore_errors=True)
    rendered = timing["samples"]
    return {"out": str(out), "rows": rows, "sequences": n_seq, "shards": len(shards), "reused_shards": reused,
            "rendered_samples": rendered, "seconds": seconds,
            "samples_per_s": rendered / seconds if rendered and seconds > 0 else None,
            "seconds_per_sample": {k: timing[k] / rendered for k in ("body", "raster", "compositing", "encode")}
            if rendered else None,
            "cpu_seconds_per_sample": timing["cpu"] / rendered if rendered else None}


def _close_worker() -> None:
    global _RENDERER
    if _RENDERER is not None:
        _RENDERER.close()
        _RENDERER = None


def _merge(shards: list[Path], out: Path, opts: SynthOptions) -> int:
    """Concatenate shards in order (the first opts.rows rows) into out.partial, mark complete, rename."""
    import h5py

    subjects = sorted(SUBJECTS, key=subject_key)
    total = opts.rows
    tmp = out.with_name(out.name + ".partial")
    with h5py.File(tmp, "w") as f:
        images, ds = create_rows(f, total, {"in_frame": ((17,), np.uint8), "source": ((), np.int8)})
        seq_names, seq_meta = [], []
        a = 0
        for p in shards:
            if a >= total:
                break
            with h5py.File(p, "r") as s:
                metas = json.loads(s.attrs["meta"])
                counts = s["seq_rows"][...]
                n = min(int(counts.sum()), total - a)
                b = a + n
                for r, jpg in enumerate(s["images"][:n]):  # row by row: h5py mis-shapes 1-row vlen slices
                    images[a + r] = jpg
                for k in ROW_FIELDS:
                    ds[k][a:b] = s[k][:n]
            r = a
            for m, c in zip(metas, counts):
                if r >= b:
                    break
                e = min(r + int(c), b)
                ds["subject"][r:e] = subjects.index(m["subject"])
                ds["action"][r:e] = MOTIONS.index(m["motion"])
                ds["camera"][r:e] = CAMERA_KINDS.index(m["camera"])
                ds["sequence"][r:e] = len(seq_names)
                seq_names.append(f"{m['subject']}/anny {m['index']:06d} {m['motion']}")
                seq_meta.append(json.dumps(m))
                r = e
            a = b
        ds["subaction"][...] = 1
        ds["source"][...] = 1
        ds["source"].attrs["source_names"] = json.dumps(["h36m", "anny"])
        finish_file(f, {"subjects": subjects, "actions": list(MOTIONS), "cameras": list(CAMERA_KINDS),
                        "sequences": seq_names, "sequence_meta": seq_meta}, {
            "options": json.dumps(opts.params()), "crop_size": opts.crop_size, "frame_step": 1,
            "margin": opts.margin, "skipped": json.dumps([]), "warnings": json.dumps([]), "source": "anny",
        })
    atomic.commit(tmp, out)
    return total
