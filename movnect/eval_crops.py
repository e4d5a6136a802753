"""Where evaluation crops come from: the stored ground-truth crops, or boxes from a file or a
person detector applied to the release's video frames.

Papers differ here and numbers move with it: the stored crops of a prepare-h36m file are
centred on the 17 projected ground-truth joints (side (1 + 2 margin) x their extent), which
knows where the person is; detector boxes (3DMPPE, integral regression) or the release's
bounding-box masks do not. `CropSource` names the choice and the report's protocol carries its
description.

  gt           the stored crops (no video needed; what training saw)
  file:PATH    an .npz with `index` (N,) HDF5 rows and `boxes` (N, 4) x0, y0, x1, y1 in video
               pixels covering the protocol's rows; each box becomes a square crop of side
               (1 + 2 margin) x its larger side around its centre (margin: the file's), so the
               joints' own bounding box gives back exactly the stored crop
  detector     a callable frame -> CropBox | None run on each row's full video frame (the CLI
               passes BlazePose's PersonFinder); a frame without a detection takes the previous
               detection of the same sequence, else the centred square of the frame's short
               side; the count of such rows is reported

File and detector crops are cut from the release's videos (the root the file was prepared from,
or `release`), JPEG-encoded at the file's quality and decoded, then go through the same
resize and normalisation as the Dataset, so only the box differs from the stored crops.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from movnect.camera import CropBox, crop_image
from movnect.estimator import PoseEstimator

Detector = Callable[[np.ndarray], "CropBox | None"]  # RGB (H, W, 3) uint8 frame -> box or None


@dataclass
class CropSource:
    kind: str = "gt"                       # "gt" | "file" | "detector"
    path: str = ""                         # the boxes file (kind "file")
    detector: Detector | None = None       # kind "detector"
    detector_name: str = ""
    release: str = ""                      # release root ("" = the one the file was prepared from)
    misses: int = field(default=0, init=False)  # detector rows without a detection

    @classmethod
    def parse(cls, text: str, release: str = "") -> "CropSource":
        """'gt', 'file:PATH' or 'detector' (the detector itself is attached by the caller)."""
        if text == "gt":
            return cls("gt")
        if text.startswith("file:") and len(text) > 5:
            return cls("file", path=text[5:], release=release)
        if text == "detector":
            return cls("detector", release=release)
        raise ValueError(f"--crops must be gt, file:PATH or detector, got {text!r}")

    def describe(self, rows: int | None = None) -> str:
        if self.kind == "gt":
            return ("ground-truth box: the stored crops, square, (1 + 2 margin) x the extent of the 17 projected "
                    "ground-truth joints")
        if self.kind == "file":
            return f"boxes from file {self.path}: square, (1 + 2 margin) x the box's larger side, cut from the videos"
        miss = f"; {self.misses} of {rows} rows without a detection took the previous one (or the centred square)" \
            if rows is not None else ""
        return f"person detector ({self.detector_name or 'callable'}) on the full video frames{miss}"


def read_boxes(path: str | Path, rows: np.ndarray) -> np.ndarray:
    """(len(rows), 4) x0, y0, x1, y1 boxes for `rows` from an .npz (keys index, boxes); one-line errors."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"boxes file not found: {p}")
    try:
        data = np.load(p)
        index, boxes = np.asarray(data["index"]), np.asarray(data["boxes"], dtype=np.float64)
    except KeyError as exc:
        raise ValueError(f"{p}: missing key {exc} (expected index (N,) and boxes (N, 4) x0, y0, x1, y1)") from None
    except Exception as exc:
        raise ValueError(f"{p} is not a readable .npz ({type(exc).__name__}: {exc})") from None
    if boxes.ndim != 2 or boxes.shape[1] != 4 or index.shape != (len(boxes),):
        raise ValueError(f"{p}: boxes must be (N, 4) with index (N,), got {boxes.shape} and {index.shape}")
    if not np.isfinite(boxes).all() or np.any(boxes[:, 2:] <= boxes[:, :2]):
        raise ValueError(f"{p}: boxes must be finite with x1 > x0 and y1 > y0")
    where = {int(r): k for k, r in enumerate(index)}
    missing = [int(r) for r in rows if int(r) not in where]
    if missing:
        raise ValueError(f"{p}: no box for {len(missing)} of the protocol's {len(rows)} rows (e.g. row {missing[0]})")
    return boxes[[where[int(r)] for r in rows]]


def square_box(xyxy: np.ndarray, margin: float) -> CropBox:
    """The square crop of a box: centred on it, side (1 + 2 margin) x its larger side (as prepare-h36m)."""
    x0, y0, x1, y1 = (float(v) for v in xyxy)
    side = max(max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin), 8.0)
    return CropBox.around(((x0 + x1) / 2.0, (y0 + y1) / 2.0), side)


def video_crops(data: str | Path, rows: np.ndarray, source: CropSource) -> Iterator[tuple[int, np.ndarray]]:
    """(position in `rows`, RGB crop at the file's crop size) for every row, sequence by sequence."""
    import cv2

    from movnect.data.h36m import open_h36m
    from movnect.data.h36m_video import FrameReader
    from movnect.data.h36m_release import open_video

    with open_h36m(data) as f:
        opts = json.loads(f.attrs["options"])
        names = [x.decode() if isinstance(x, bytes) else str(x) for x in f["names/sequences"][...]]
        cams = [x.decode() if isinstance(x, bytes) else str(x) for x in f["names/cameras"][...]]
        seq, cam, frame = (f[k][...][rows] for k in ("sequence", "camera", "frame"))
    root = Path(source.release or opts["root"])
    size, margin, quality = int(opts["crop_size"]), float(opts["margin"]), int(opts["jpeg_quality"])
    boxes = read_boxes(source.path, rows) if source.kind == "file" else None
    for q, c in sorted({(int(a), int(b)) for a, b in zip(seq, cam)}):
        subject, _, stem = names[q].partition("/")
        video = root / subject / "Videos" / f"{stem}.{cams[c]}.mp4"
        if not video.is_file():
            raise FileNotFoundError(f"crops from the videos need {video} (give the release root with --release)")
        sel = np.flatnonzero((seq == q) & (cam == c))
        sel = sel[np.argsort(frame[sel], kind="stable")]
        cap = open_video(video)
        previous: CropBox | None = None
        try:
            decoded = FrameReader(cap, int(frame[sel].max()) + 1).frames([int(frame[k]) for k in sel])
            for k in sel:
                i, bgr = next(decoded, (None, None))
                if i != int(frame[k]):
                    raise ValueError(f"{video}: frame {int(frame[k])} cannot be decoded")
                if boxes is not None:
                    box = square_box(boxes[k], margin)
                else:
                    box = source.detector(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))  # type: ignore[misc]
                    if box is None:
                        source.misses += 1
                        h, w = bgr.shape[:2]
                        box = previous or CropBox.around(((w - 1) / 2.0, (h - 1) / 2.0), float(min(h, w)))
                    previous = box
                crop = crop_image(bgr, box, size)
                ok, jpg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, quality])  # as the stored crops
                yield int(k), cv2.cvtColor(cv2.imdecode(jpg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        finally:
            cap.release()


def predict_video_crops(estimator: PoseEstimator, data: str | Path, rows: np.ndarray, source: CropSource,
                        batch_size: int = 32, progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Root-relative 3D joints (len(rows), 17, 3) mm predicted by `estimator` (flip test included
    if it is a movnect.estimator.FlipTest) from crops of `source`, resized to its input side
    as the stored crops are (movnect.data.dataset.fit_crop)."""
    from movnect.data.dataset import fit_crop

    size = estimator.codec.config.input_size
    out = np.zeros((len(rows), estimator.codec.num_joints, 3))
    batch: list[tuple[int, np.ndarray]] = []

    def run(items: list[tuple[int, np.ndarray]]) -> None:
        pred = estimator(np.stack([fit_crop(im, size) for _, im in items]))
        out[[k for k, _ in items]] = pred.joints3d.astype(np.float64)
        if progress is not None:
            progress(len(items))

    for item in video_crops(data, rows, source):
        batch.append(item)
        if len(batch) == batch_size:
            run(batch)
            batch = []
    if batch:
        run(batch)
    return out


def describe_protocol_crops(source: CropSource | None, rows: int) -> dict[str, Any]:
    """The `crops` entry of a report's protocol."""
    source = source or CropSource()
    return {"source": source.kind if source.kind != "file" else f"file:{source.path}",
            "description": source.describe(rows if source.kind == "detector" else None),
            "detector_misses": source.misses if source.kind == "detector" else None}
