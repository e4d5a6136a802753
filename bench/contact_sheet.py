"""Regenerates docs/synthetic_contact_sheet.png: synthetic frames with their projected skeletons.

    python bench/contact_sheet.py [--out docs/synthetic_contact_sheet.png] [--cache DIR]

Renders (once; reused under --cache) a synthetic release at the cameras' real 1000 px
resolution: subjects S1, S5, S6, S9, S11, one action each (walking, sitting down, greeting,
phoning, waiting), 4 cameras, 60 frames; prepares it with prepare-h36m (every 20th frame). The sheet
has 4 x 3 tiles of 256 px: the top row shows one moment through the four cameras (full views),
the two rows below show the 256 px person crops of the prepared file across subjects, actions
and cameras. Each tile carries the stored 17-joint 2D skeleton (the distorted projection of the
stored 3D joints) drawn with movnect.overlay: the person's left side blue, right side orange,
centre white. The renderer dresses left limbs in warm and right limbs in cool colours.
Prints ONE JSON object (path, bytes, tiles, seconds).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


import cv2
import numpy as np

from movnect.codec import Codec
from movnect.data.dataset import H36MDataset
from movnect.data.h36m import PrepareOptions, open_h36m, prepare_h36m
from movnect.data.synthetic import SynthConfig, write_release
from movnect.overlay import draw_skeleton_2d

TILE = 256
TAKES = (("S1", "Walking"), ("S5", "SittingDown"), ("S6", "Greeting"), ("S9", "Phoning"), ("S11", "Waiting"))
SEED = 4


def build(cache: Path) -> Path:
    """The prepared HDF5 of the sheet's release (rendered and converted once)."""
    h5 = cache / "sheet.h5"
    try:
        open_h36m(h5).close()
        return h5
    except (FileNotFoundError, ValueError):
        pass
    release = cache / "release"
    for subject, action in TAKES:
        if not (release / subject).is_dir():
            write_release(release, SynthConfig(subjects=(subject,), actions=(action,), subactions=1, frames=60,
                                               image_size=1000, seed=SEED))
    prepare_h36m(release, h5, PrepareOptions(frame_step=20, workers=2), overwrite=True)
    return h5


def label(tile: np.ndarray, text: str) -> None:
    cv2.rectangle(tile, (0, TILE - 18), (TILE, TILE), (0, 0, 0), -1)
    cv2.putText(tile, text, (4, TILE - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)


def full_view(release: Path, f, row: int) -> np.ndarray:
    """One full camera frame (resized to a tile) with the row's 2D joints drawn."""
    names = [s.decode() for s in f["names/sequences"][...]]
    cams = [s.decode() for s in f["names/cameras"][...]]
    subject, stem = names[f["sequence"][row]].split("/")
    camera = cams[f["camera"][row]]
    cap = cv2.VideoCapture(str(release / subject / "Videos" / f"{stem}.{camera}.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, int(f["frame"][row]))
    ok, frame = cap.read()
    cap.release()
    if not ok:
        raise OSError(f"cannot read frame {int(f['frame'][row])} of {subject}/{stem}.{camera}")
    h, w = frame.shape[:2]
    tile = cv2.resize(frame, (TILE, TILE), interpolation=cv2.INTER_AREA)
    joints = f["joints2d"][row] * np.array([TILE / w, TILE / h])
    draw_skeleton_2d(tile, joints, thickness=1)
    label(tile, f"{subject} {stem} cam {camera} full view")
    return tile


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/synthetic_contact_sheet.png")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "movnect_contact_sheet"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    h5 = build(cache)
    ds = H36MDataset(h5, Codec())
    tiles = []
    with open_h36m(h5) as f:
        seq, cam, frame = f["sequence"][...], f["camera"][...], f["frame"][...]
        top = [int(np.flatnonzero((seq == 0) & (cam == c) & (frame == 40))[0]) for c in range(4)]
        tiles += [full_view(cache / "release", f, r) for r in top]
        subjects = [s.decode() for s in f["names/subjects"][...]]
        actions = [s.decode() for s in f["names/actions"][...]]
        cameras = [s.decode() for s in f["names/cameras"][...]]
        rng = np.random.default_rng(0)
        picks = []
        for k in range(8):  # every take, then a second view of three of them; varied cameras and frames
            s = k % len(TAKES)
            rows = np.flatnonzero((seq == s) & (cam == (k + s) % 4))
            picks.append(int(rows[rng.integers(0, len(rows))]))
        for r in picks:
            raw = ds.raw(r)
            tile = cv2.cvtColor(raw["image"], cv2.COLOR_RGB2BGR)
            draw_skeleton_2d(tile, raw["joints2d"], thickness=2)
            label(tile, f"{subjects[raw['subject']]} {actions[raw['action']]} cam {cameras[raw['camera']]} "
                        f"f{int(frame[r])} crop")
            tiles.append(tile)
    sheet = np.vstack([np.hstack(tiles[i:i + 4]) for i in range(0, 12, 4)])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"cannot write {out}")
    print(json.dumps({"path": str(out), "bytes": out.stat().st_size, "tiles": len(tiles),
                      "size": [sheet.shape[1], sheet.shape[0]], "seconds": round(time.perf_counter() - t0, 1),
                      "data": "synthetic release (not Human3.6M)"}))


if __name__ == "__main__":
    main()
