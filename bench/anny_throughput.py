"""Rendered Anny training samples per second (256 x 256 crops) with K worker processes.

    python bench/anny_throughput.py [--rows 384] [--workers 2] [--crop-size 256] [--seed 0] [--msaa 4]

Runs `movnect.data.anny.writer.synthesize` (the code path of `movnect synth --renderer anny`)
into a temporary file and prints ONE JSON object:
  samples_per_s          rows rendered and stored per wall-clock second between the first and
                         the last finished shard, not counting the other workers' first shards
                         (steady state: worker start-up excluded)
  end_to_end_samples_per_s  the same over the whole call (start-up, Anny model load in each
                         worker and the merge included)
  seconds_per_sample     the per-stage split inside the workers (CPU seconds of one worker per
                         sample): body (phenotype, motion, Anny forward, joints, normals, camera,
                         room), raster (OpenGL draw + MSAA resolve + read-back), compositing
                         (frame borders, degradations), encode (JPEG)
  cpu_seconds_per_sample CPU time of the workers (all threads) per sample: the machine's load
                         changes it little, unlike the wall-clock figures
  cpu_bound_samples_per_s  workers / cpu_seconds_per_sample: the rate on as many idle cores
  machine                CPU, cores, load average before and after, the GL renderer
Target (issue 13): >= 25 samples/s on 2 cores. The figures swing with the machine's load.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path


from movnect.data.anny.writer import SynthOptions, synthesize


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=384)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--crop-size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--msaa", type=int, default=4, choices=(0, 2, 4), help="anti-aliasing samples (the CLI's default: 4)")
    args = ap.parse_args()
    load0 = os.getloadavg()
    marks: list[tuple[float, int]] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        opts = SynthOptions(rows=args.rows, seed=args.seed, crop_size=args.crop_size, workers=args.workers,
                            shard_sequences=2, msaa=args.msaa)
        s = synthesize(Path(tmp) / "bench.h5", opts, lambda done, total: marks.append((time.perf_counter(), done)))
        size = (Path(tmp) / "bench.h5").stat().st_size
    wall = time.perf_counter() - t0
    done = [(t, d) for t, d in marks if d > 0]
    # between the first and the last finished shard; the other workers' first shards were mostly
    # rendered before the first mark, so (workers - 1) shards are not counted
    shard_rows = opts.shard_sequences * opts.frames
    steady = None
    if len(done) > args.workers + 1:
        steady = (done[-1][1] - done[0][1] - (args.workers - 1) * shard_rows) / (done[-1][0] - done[0][0])
    from movnect.data.anny.raster import Rasterizer

    r = Rasterizer(16)
    gl = r.renderer
    r.release()
    print(json.dumps({
        "samples_per_s": round(steady, 2) if steady else None,
        "end_to_end_samples_per_s": round(s["rows"] / wall, 2),
        "target_samples_per_s": 25,
        "rows": s["rows"], "workers": args.workers, "msaa": args.msaa, "crop_size": args.crop_size, "wall_s": round(wall, 1),
        "bytes_per_row": round(size / s["rows"]),
        "seconds_per_sample": {k: round(v, 4) for k, v in s["seconds_per_sample"].items()},
        "cpu_seconds_per_sample": round(s["cpu_seconds_per_sample"], 4),
        "cpu_bound_samples_per_s": round(args.workers / s["cpu_seconds_per_sample"], 1),
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "load_before": [round(x, 2) for x in load0],
                    "load_after": [round(x, 2) for x in os.getloadavg()], "gl_renderer": gl,
                    "python": platform.python_version()},
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
