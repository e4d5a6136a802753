"""Regenerates docs/anny_contact_sheet.png: 24 random rendered Anny crops with their projected joints.

    python bench/anny_contact_sheet.py [--out docs/anny_contact_sheet.png] [--seed 11] [--workers 2]

Renders 24 sequences of one frame each with `movnect.data.anny.writer.synthesize` (so every
tile is a different body, outfit, motion, camera and room) into a temporary HDF5 file, reads
it back with H36MDataset.raw (the training loader's un-augmented view) and draws the stored
17-joint skeleton (stored 2D mapped into the crop) with movnect.overlay: the person's left side
blue, right side orange, centre white. A caption gives the motion and the camera kind.
Prints ONE JSON object (path, bytes, tiles, seconds).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


import cv2
import h5py
import numpy as np

from movnect.codec import Codec
from movnect.data.anny.writer import SynthOptions, synthesize
from movnect.data.dataset import H36MDataset
from movnect.overlay import draw_skeleton_2d

TILES, COLS = 24, 6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/anny_contact_sheet.png")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sheet.h5"
        synthesize(path, SynthOptions(rows=TILES, seed=args.seed, frames=1, workers=args.workers, shard_sequences=4))
        ds = H36MDataset(path, Codec())
        with h5py.File(path, "r") as f:
            motions = [x.decode() for x in f["names/actions"][...]]
            cams = [x.decode() for x in f["names/cameras"][...]]
        tiles = []
        for i in range(TILES):
            r = ds.raw(i)
            img = np.ascontiguousarray(r["image"][..., ::-1])
            draw_skeleton_2d(img, r["joints2d"], thickness=1)
            text = f"{motions[r['action']]} / {cams[r['camera']]}"
            cv2.putText(img, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(img, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
            tiles.append(img)
        ds.close()
    rows = [np.concatenate(tiles[k:k + COLS], axis=1) for k in range(0, TILES, COLS)]
    sheet = np.concatenate(rows, axis=0)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), sheet)
    print(json.dumps({"path": str(out), "bytes": out.stat().st_size, "tiles": TILES,
                      "seconds": round(time.perf_counter() - t0, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
