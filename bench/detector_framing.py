"""How BlazePose's person detector frames a person, against the training crops' framing.

The live pipeline (`movnect demo`) crops where the detector says; the model was trained on
crops of side (1 + 2 x CROP_MARGIN) x the larger extent of the true joints
(movnect.data.h36m.person_box). This bench runs the detector (movnect.blazepose.pose.PersonFinder)
on rendered crops stored with a wide margin (`movnect synth --crop-margin 0.5`, so the person
has room around them, as in a video frame), takes the detection nearest the true training box
and reports the side ratio detected / training (median, quartiles, 10th/90th percentiles), the
centre offset (fraction of the training side) and the scale that maps the detector's raw box
onto the training framing (1 / median ratio; movnect.blazepose.pose.DETECTOR_BOX_SCALE).
Rendered people with exact joints, not real footage: the real-footage reference is made from
BlazePose's own landmarks (no head top), so its boxes are not an independent measure.

    python bench/detector_framing.py --data data/anny/anny_s24_m05_24k.h5 [--subjects S8] [--rows 1000]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def measure(data: Path, subjects: tuple[str, ...], rows: int, seed: int) -> dict:
    from movnect.blazepose.pose import PersonFinder, raw_person_box
    from movnect.camera import CROP_MARGIN
    from movnect.codec import Codec, CodecConfig
    from movnect.data.dataset import H36MDataset
    from movnect.data.h36m import person_box
    from real_footage import nearest_detection  # bench/ is on sys.path when this file runs

    ds = H36MDataset(data, Codec(CodecConfig()), subjects=subjects)
    if ds.zoom < 1.3:
        raise SystemExit(f"detector_framing: {data} stores its crops at the training margin; render it "
                         "with `movnect synth --crop-margin 0.5` so the detector sees the person in context")
    finder = PersonFinder()
    pick = np.random.default_rng(seed).choice(len(ds), min(rows, len(ds)), replace=False)
    ratio, offset, missed, partial = [], [], 0, 0
    for k, i in enumerate(pick):
        r = ds.raw(int(i), context=True)
        if r["in_frame"].min() < 1:  # a joint outside the camera image: no true extent
            partial += 1
            continue
        truth = person_box(r["joints2d"], CROP_MARGIN)
        near = nearest_detection([raw_person_box(d) for d in finder.find(r["image"])], truth)
        if near is None:
            missed += 1
            continue
        ratio.append(near.side / truth.side)
        offset.append(float(np.hypot(*np.subtract(near.center, truth.center))) / truth.side)
        if (k + 1) % 200 == 0:
            print(f"[detector_framing] {k + 1}/{len(pick)} crops", file=sys.stderr, flush=True)
    if not ratio:
        raise SystemExit("detector_framing: the detector found nobody in the sampled crops")
    q = np.percentile(ratio, [10, 25, 50, 75, 90])
    return {"bench": "detector_framing", "data": str(data), "subjects": list(subjects), "sampled": len(pick),
            "partial_people": partial, "missed": missed, "measured": len(ratio),
            "side_ratio": {"p10": round(q[0], 3), "p25": round(q[1], 3), "median": round(q[2], 3),
                           "p75": round(q[3], 3), "p90": round(q[4], 3)},
            "centre_offset_median": round(float(np.median(offset)), 3),
            "scale_to_training_framing": round(float(1.0 / q[2]), 3),
            "note": "rendered people (synthetic), not real footage"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="rendered HDF5 stored with a wide crop margin")
    ap.add_argument("--subjects", default="S8")
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench_out/detector_framing.json")
    args = ap.parse_args()
    if not Path(args.data).is_file():
        raise SystemExit(f"detector_framing: no such file: {args.data}")
    result = measure(Path(args.data), tuple(args.subjects.split(",")), args.rows, args.seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
