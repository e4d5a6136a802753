"""Do the Anny renders pay on real people? The same student trained on old and new renders.

    python bench/render_gain.py [--steps 2000] [--anny-rows 16000] [--anny-seed 21]
        [--work bench_out/render_gain]

Two arms, identical except for the training images (issue 13's acceptance benchmark):
- stick: the old stick-figure renders (bench/synthetic_data.py: flat capsules on textured
  backgrounds, the shared synthetic release, 256 px crops);
- anny:  the Anny renders (`movnect synth --renderer anny --rows N --seed S`: realistic bodies,
  clothing, rooms and photographs, webcam / phone / Human3.6M cameras).
Both train configs/render_gain.toml from scratch (MoVNect width 0.5, 160 px, augmentation on,
`--steps` steps of batch 16, seed 0: same initial weights and schedule), subjects S1 S5 S6 S7,
and the LAST checkpoint of each is scored, so no choice is made on any test data. Scored with
bench/real_footage.py on real people (Pose2Sim Demo_MultiPerson's 4 calibrated views against a
reference triangulated from BlazePose heavy's 2D; live 2D PCK on those views and on Sports2D's
clip). The reserved Demo_SinglePerson is not used. Real-footage figures only: nothing here is a
Human3.6M number.

Every step is cached under --work: data files are reused, a finished arm (summary.json) is not
retrained, an interrupted one resumes from its last checkpoint. Prints one JSON object (also
WORK/result.json) and a markdown table.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from synthetic_data import ensure_synthetic_h5  # noqa: E402

from movnect.data.dataset import select_rows  # noqa: E402
from movnect.data.h36m import open_h36m  # noqa: E402

CONFIG = ROOT / "configs" / "render_gain.toml"
STEPS_PER_EPOCH = 500  # <= batches per pass of the smaller (stick) set, so no epoch is cut short


def log(msg: str) -> None:
    print(f"[render_gain] {msg}", flush=True)


def ensure_anny(path: Path, rows: int, seed: int) -> Path:
    """The Anny training file, rendered (or its interrupted render resumed) if incomplete."""
    try:
        open_h36m(path).close()
        return path
    except (OSError, ValueError):
        pass
    log(f"rendering {rows} Anny rows (seed {seed}) into {path}")
    subprocess.run([sys.executable, "-m", "movnect", "synth", "--renderer", "anny", "--rows", str(rows),
                    "--workers", "2", "--seed", str(seed), "--out", str(path)], check=True)
    return path


def train_arm(name: str, data: Path, steps: int, work: Path) -> Path:
    """Train (or resume) one arm; the path of its last checkpoint."""
    run = work / name
    last = run / "checkpoints" / "last.pt"
    summary = run / "summary.json"
    if summary.is_file() and not json.loads(summary.read_text()).get("stopped", True):
        log(f"{name}: finished earlier ({run})")
        return last
    if steps % STEPS_PER_EPOCH:
        raise SystemExit(f"--steps must be a multiple of {STEPS_PER_EPOCH}, got {steps}")
    cmd = [sys.executable, "-m", "movnect", "train", "--config", str(CONFIG), "--out", str(run),
           "--set", f"data.h36m={data}", "--set", f"stages.0.epochs={steps // STEPS_PER_EPOCH}",
           "--set", f"stages.0.steps_per_epoch={STEPS_PER_EPOCH}",
           "--no-progress"]
    if last.is_file():
        cmd += ["--resume", str(last)]
    log(f"{name}: training {steps} steps on {data}")
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    log(f"{name}: done in {(time.perf_counter() - t0) / 60:.1f} min")
    done = json.loads(summary.read_text())["steps"]
    if done != steps:
        raise SystemExit(f"{name}: trained {done} steps, not {steps} (an epoch longer than the data?)")
    return last


def rows_of(path: Path, subjects: tuple[str, ...]) -> int:
    return len(select_rows(path, subjects))


def table(result: dict) -> str:
    lines = ["| training renders | MPJPE mm | PA-MPJPE mm | 2D PCK@0.1 on the crops | bone CV | live 2D PCK@0.1 lab / Sports2D |",
             "|---|---|---|---|---|---|"]
    for arm in result["arms"]:
        r, live = arm["real_3d"], arm["live_2d"]
        lines.append(f"| {arm['name']} ({arm['train_rows']} rows) | {r['mpjpe_mm']} | {r['pa_mpjpe_mm']} | {r['crop_pck01']} | "
                     f"{r['bone_cv']} | {live['multiperson_mean_pck01']} / {live['sports2d']['pck01']} |")
    const = result["constant_pose"]
    lines.append(f"| constant mean pose (oracle) | {const['mpjpe_mm']} | {const['pa_mpjpe_mm']} | - | - | - |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=2000, help="optimisation steps per arm (batch 16)")
    ap.add_argument("--anny-rows", type=int, default=16000)
    ap.add_argument("--anny-seed", type=int, default=21)
    ap.add_argument("--anny-data", default=None, help="an existing Anny HDF5 to use instead")
    ap.add_argument("--work", default="bench_out/render_gain")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    stick = ensure_synthetic_h5(ROOT / "data" / "synth")
    anny = ensure_anny(Path(args.anny_data or ROOT / "data" / "anny" / f"anny_s{args.anny_seed}_{args.anny_rows // 1000}k.h5"),
                       args.anny_rows, args.anny_seed)
    arms = [("stick", stick), ("anny", anny)]
    ckpts = [train_arm(name, data, args.steps, work) for name, data in arms]
    scored = work / "real_footage.json"
    models = ",".join(str(c) for c in ckpts)
    subprocess.run([sys.executable, str(ROOT / "bench" / "real_footage.py"), "--models", models,
                    "--live-models", models, "--out", str(scored)], check=True)
    real = json.loads(scored.read_text())
    by_model = {r["model"]: r for r in real["crops_3d"]}
    train_subjects = ("S1", "S5", "S6", "S7")
    result = {"benchmark": "render_gain", "steps": args.steps, "batch_size": 16,
              "student": "MoVNect width 0.5, 160 px, from scratch (configs/render_gain.toml)",
              "scored_on": real["footage"], "reference": real["reference"],
              "constant_pose": by_model["constant mean pose (oracle)"], "arms": []}
    for (name, data), ckpt in zip(arms, ckpts):
        summary = json.loads((work / name / "summary.json").read_text())
        result["arms"].append({"name": name, "data": str(data), "train_rows": rows_of(data, train_subjects),
                               "checkpoint": str(ckpt), "real_3d": by_model[str(ckpt)],
                               "live_2d": real["live_2d"][str(ckpt)],
                               "steps": summary["steps"], "own_val": summary.get("best")})
    (work / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(table(result))


if __name__ == "__main__":
    main()
