"""Tracking quality of the live pipeline on the sample clip, per box-padding setting.

Runs `movnect demo`'s pipeline (default model) on the rendered sample clip, whose true joints
are known, and reports per setting: person frames tracked, empty-room frames tracked, the box
side over the side of the training-framed box of the true joints (movnect.data.h36m.person_box,
margin 0.2; 1.0 = framed like the training crops) and the 2D joint error (image px) of the
filtered joints. Synthetic clip, not real footage.

    python bench/tracking.py [--pads 0.4/0.1,0.2/0.2] [--seconds-per-action 3] [--out bench_out/tracking.json]
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np



def run(clip: Path, meta: dict, pad_x: float, pad_y: float, search: int, out_dir: Path) -> dict:
    from movnect import camera as cam
    from movnect.data.h36m import person_box
    from movnect.demo import DemoOptions, load_demo_estimator, run_demo
    from movnect.live import LiveConfig
    from movnect.sample_clip import sample_intrinsics
    from postprocess.tracker import TrackerConfig

    live = LiveConfig(tracker=TrackerConfig(pad_x=pad_x, pad_y=pad_y), search_per_frame=search)
    out_dir.mkdir(parents=True, exist_ok=True)
    options = DemoOptions(jsonl=out_dir / "poses.jsonl", live=live)
    run_demo(load_demo_estimator("default"), str(clip), options, intrinsics=sample_intrinsics(meta))
    lines = [json.loads(x) for x in (out_dir / "poses.jsonl").read_text().splitlines()]
    k = sample_intrinsics(meta)
    ratio, err, person, empty = [], [], [], []
    for r, truth in zip(lines, meta["joints3d_camera_mm"]):
        if truth is None:
            empty.append(r["tracked"])
            continue
        person.append(r["tracked"])
        if r["tracked"]:
            uv = cam.project(np.asarray(truth), k)
            ratio.append(r["box"][2] / person_box(uv, 0.2).side)
            err.append(float(np.linalg.norm(np.asarray(r["joints2d_px"]) - uv, axis=1).mean()))
    return {
        "pad_x": pad_x, "pad_y": pad_y, "search_per_frame": search,
        "person_frames_tracked": f"{sum(person)}/{len(person)}",
        "empty_frames_tracked": f"{sum(empty)}/{len(empty)}",
        "box_ratio_median": round(float(np.median(ratio)), 3) if ratio else None,
        "box_ratio_p10_p90": [round(float(x), 3) for x in np.percentile(ratio, [10, 90])] if ratio else None,
        "err2d_px_median": round(float(np.median(err)), 2) if err else None,
        "err2d_px_p90": round(float(np.percentile(err, 90)), 2) if err else None,
    }


def main(argv: list[str] | None = None) -> int:
    from movnect.estimator import DEFAULT_MODEL_FILE
    from movnect.sample_clip import write_sample_clip

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pads", default="0.4/0.1,0.2/0.2", help="comma-separated pad_x/pad_y settings")
    ap.add_argument("--search", default="6", help="comma-separated search_per_frame settings")
    ap.add_argument("--seconds-per-action", type=float, default=3.0)
    ap.add_argument("--out", type=Path, default=Path("bench_out/tracking.json"))
    args = ap.parse_args(argv)
    if not DEFAULT_MODEL_FILE.is_file():
        print(f"error: no embedded default model ({DEFAULT_MODEL_FILE})", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        meta = write_sample_clip(clip, seconds_per_action=args.seconds_per_action, fps=25, empty_seconds=1.0)
        for pads in args.pads.split(","):
            px, py = (float(x) for x in pads.split("/"))
            for search in (int(x) for x in args.search.split(",")):
                row = run(clip, meta, px, py, search, Path(tmp) / f"out_{px}_{py}_{search}")
                rows.append(row)
                print(json.dumps(row))
    result = {"clip": {"frames": meta["frames"], "seconds_per_action": args.seconds_per_action},
              "machine": {"python": platform.python_version(), "processor": platform.processor()},
              "rows": rows, "note": "synthetic sample clip (rendered), default model; not real footage"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
