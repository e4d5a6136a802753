"""prepare-h36m throughput at frame steps 5 and 64, grabbing every frame or seeking over gaps.

    python bench/prepare_h36m_speed.py [--cache DIR] [--frames 640] [--cameras 2] [--repeats 2]

Builds once (and reuses, under --cache) a synthetic release at the cameras' real resolution
(1000 px wide, mp4v, OpenCV's default key-frame interval): one subject (S9), one take of
Walking, --cameras cameras, --frames frames each. Then runs prepare-h36m (one worker, 256 px
crops) at frame step 5 and 64, with seeking on (the default: FrameReader measures grab and
seek costs and seeks over long gaps when cheaper) and off (--no-seek: every frame decoded),
checks that both give identical rows, and reports per run the median wall time, video frames
covered per second (the figure that scales to the release: prepare time = video frames /
this rate) and rows kept per second. Synthetic mp4v videos decode faster than many H.264
files, so the real release may be slower; the output says so. Prints ONE JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path


import h5py
import numpy as np

from movnect.data.h36m import PrepareOptions, prepare_h36m
from movnect.data.synthetic import SynthConfig, write_release


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "movnect_prepare_speed"))
    ap.add_argument("--frames", type=int, default=640)
    ap.add_argument("--cameras", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    cams = ("54138969", "55011271", "58860488", "60457274")[:args.cameras]
    cache = Path(args.cache)
    release = cache / f"release_{args.frames}_{args.cameras}"
    if not (release / "S9").exists():
        write_release(release, SynthConfig(subjects=("S9",), actions=("Walking",), subactions=1, frames=args.frames,
                                           cameras=cams, image_size=1000, seed=1))
    video_frames = args.frames * len(cams)
    runs, outputs = {}, {}
    for step in (5, 64):
        times: dict[bool, list[float]] = {True: [], False: []}
        rows = {}
        for r in range(args.repeats):  # interleaved, so load changes hit both modes alike
            for seek in ((True, False) if r % 2 == 0 else (False, True)):
                out = cache / f"out_{step}_{seek}.h5"
                out.unlink(missing_ok=True)
                shutil.rmtree(cache / f"{out.name}.parts", ignore_errors=True)
                t0 = time.perf_counter()
                s = prepare_h36m(release, out, PrepareOptions(frame_step=step, seek=seek))
                times[seek].append(time.perf_counter() - t0)
                rows[seek] = s.rows
                with h5py.File(out, "r") as f:
                    outputs[(step, seek)] = (f["frame"][...], [bytes(x) for x in f["images"][...]])
                out.unlink()
        for seek in (True, False):
            t = statistics.median(times[seek])
            runs[f"step{step}_{'seek' if seek else 'grab'}"] = {
                "seconds": round(t, 3), "rows": rows[seek], "video_frames_per_s": round(video_frames / t, 1),
                "rows_per_s": round(rows[seek] / t, 1)}
        a, b = outputs[(step, True)], outputs[(step, False)]
        runs[f"step{step}_identical_rows"] = bool(np.array_equal(a[0], b[0]) and a[1] == b[1])
    print(json.dumps({
        "bench": "prepare_h36m_speed", "video": "synthetic, 1000 px wide, mp4v, 50 fps",
        "video_frames": video_frames, "workers": 1, "crop_size": 256, "runs": runs,
        "machine": {"cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2), "python": platform.python_version(),
                    "processor": platform.processor() or platform.machine()},
        "note": "synthetic mp4v data; real Human3.6M videos may decode slower"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
