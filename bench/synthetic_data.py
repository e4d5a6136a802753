"""The shared synthetic release used by the benchmarks and the embedded default model.

    python bench/synthetic_data.py [--out data/synth] [--processes 2]

writes `<out>/release` (official layout, rendered at 500 px wide with scaled cameras) and
`<out>/synth.h5` (prepare-h36m output, every 2nd frame, 256 px crops) once; later calls reuse
them. Subjects follow the Human3.6M protocol split (train S1 S5 S6 S7 S8, test S9 S11), so the
benchmarks report held-out-subject numbers. These are synthetic data: never Human3.6M figures.
Prints one JSON object (paths, rows, seconds).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from pathlib import Path


from movnect.data.h36m import PrepareOptions, open_h36m, prepare_h36m
from movnect.data.synthetic import SynthConfig, write_release

SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
ACTIONS = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Posing", "Sitting",
           "SittingDown", "Walking", "WalkDog")
FRAMES = 100       # per take, 50 fps: 2 s
IMAGE_SIZE = 500   # video width; cameras scaled (movnect_cameras.json)
FRAME_STEP = 2
SEED = 2026


def _render(subjects: tuple[str, ...], release: str) -> None:
    cfg = SynthConfig(subjects=subjects, actions=ACTIONS, subactions=1, frames=FRAMES,
                      image_size=IMAGE_SIZE, seed=SEED)
    write_release(release, cfg)


def ensure_synthetic_h5(out: str | Path = "data/synth", processes: int = 2) -> Path:
    """Path of the shared synthetic HDF5, generating release and file if missing."""
    out = Path(out)
    h5 = out / "synth.h5"
    if h5.is_file():
        try:
            open_h36m(h5).close()
            return h5
        except ValueError:
            pass  # an unfinished file: regenerate below
    release = out / "release"
    done = out / "release.done"
    if not done.is_file():
        groups = [SUBJECTS[i::processes] for i in range(processes)]
        # the camera override file is written per call: merge happens because every call
        # writes the cameras of its own subjects; run sequentially per group, in parallel across.
        with mp.get_context("spawn").Pool(processes) as pool:
            pool.starmap(_render, [(g, str(release / f"part{i}")) for i, g in enumerate(groups)])
        _merge_parts(release, processes)
        done.write_text("ok")
    prepare_h36m(release, h5, PrepareOptions(frame_step=FRAME_STEP, workers=processes))
    return h5


def _merge_parts(release: Path, processes: int) -> None:
    """Move the per-process release parts into one tree and merge their camera files."""
    cams: dict = {}
    for i in range(processes):
        part = release / f"part{i}"
        for subject_dir in part.glob("S*"):
            subject_dir.rename(release / subject_dir.name)
        cam_file = part / "movnect_cameras.json"
        if cam_file.is_file():
            facts = json.loads(cam_file.read_text())
            for key, value in facts.items():
                if isinstance(value, dict) and key in cams and isinstance(cams[key], dict):
                    cams[key].update(value)
                else:
                    cams[key] = value
            cam_file.unlink()
        (part / ".synth_progress.json").unlink(missing_ok=True)  # the part's resume record
        part.rmdir()
    (release / "movnect_cameras.json").write_text(json.dumps(cams, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data/synth")
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    t0 = time.perf_counter()
    h5 = ensure_synthetic_h5(args.out, args.processes)
    with open_h36m(h5) as f:
        rows = int(f.attrs["rows"])
    print(json.dumps({"h5": str(h5), "rows": rows, "seconds": round(time.perf_counter() - t0, 1),
                      "subjects": SUBJECTS, "actions": ACTIONS, "frames_per_take": FRAMES,
                      "image_size": IMAGE_SIZE, "frame_step": FRAME_STEP, "seed": SEED}))


if __name__ == "__main__":
    main()
