"""`movnect train` end to end on generated synthetic releases: learning, run folder, exact
resume (with DataLoader workers), torchrun with two gloo processes, one-line errors."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch

from movnect.cli import main
from movnect.train.config import experiment_from_dict, load_experiment
from movnect.train.run import run_training
from tests.movnect.train.conftest import ROOT, TINY_CONFIG


def _sets(values: list[str]) -> list[str]:
    return [x for v in values for x in ("--set", v)]


@pytest.mark.slow
def test_student_learns_on_a_synthetic_release(tmp_path: Path, small_h5: Path) -> None:
    over = [f"data.h36m={small_h5}", "data.train_frame_step=2", "data.val_frame_step=2",
            "train.val_max_samples=48", "train.log_every=5", "train.ckpt_every=0", "train.image_panels=0",
            "stages.0.sources=['h36m']", "stages.0.steps_per_epoch=8", "stages.0.batch_size=8",
            "stages.1.epochs=3", "stages.1.steps_per_epoch=20", "stages.1.batch_size=8",
            "stages.1.optimizer.lr=3e-3", "stages.1.loss.bones=0.0"]
    losses: list[float] = []
    summary = run_training(TINY_CONFIG, over, out=tmp_path / "run", on_step=lambda r: losses.append(r.loss))
    assert summary["steps"] == 8 + 3 * 20
    main3d = losses[8:]
    assert sum(main3d[-10:]) < 0.5 * sum(main3d[:10]), (main3d[:10], main3d[-10:])
    val = [h["val/mpjpe"] for h in summary["history"] if h["stage"] == 1]
    assert val[-1] < val[0] - 100.0, val  # untrained location maps give ~400 mm
    assert summary["best"]["value"] == min(val)


def test_cli_run_folder_and_resolved_config(tmp_path: Path, tiny_data: list[str]) -> None:
    out = tmp_path / "run"
    args = ["train", "--config", str(TINY_CONFIG), "--out", str(out), "--no-progress", "--set", "train.image_panels=1"]
    assert main(args + _sets(tiny_data)) == 0
    for name in ("config.toml", "summary.json", "metrics.jsonl", "checkpoints/last.pt", "checkpoints/best.pt",
                 "checkpoints/stage-pre2d.pt", "checkpoints/stage-main3d.pt"):
        assert (out / name).is_file(), name
    resolved = experiment_from_dict(tomllib.loads((out / "config.toml").read_text()))
    assert resolved == load_experiment(TINY_CONFIG, tiny_data + ["train.image_panels=1"])
    events = list((out / "tb").glob("events.out.tfevents.*"))
    assert events and max(e.stat().st_size for e in events) > 20_000  # scalars + image panels
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 5 + 2 * 4 and summary["world_size"] == 1  # (16 S1 + 6 COCO) // 4, 16 // 4
    ckpt = torch.load(out / "checkpoints" / "last.pt", weights_only=False)
    assert ckpt["extra"]["run_config"] == json.loads(json.dumps(ckpt["extra"]["run_config"]))
    assert {"val/mpjpe", "val/pa_mpjpe", "val/err2d_px"} <= set(summary["metrics"])


@pytest.mark.slow
def test_resume_with_workers_reproduces_uninterrupted_run(tmp_path: Path, tiny_data: list[str]) -> None:
    run_training(TINY_CONFIG, tiny_data, out=tmp_path / "full")
    steps = {"n": 0}

    def stop() -> bool:
        steps["n"] += 1
        return steps["n"] >= 7  # inside the first epoch of the 3D stage

    part = run_training(TINY_CONFIG, tiny_data, out=tmp_path / "part", should_stop=stop)
    assert part["stopped"] and part["steps"] == 7
    last = tmp_path / "part" / "checkpoints" / "last.pt"
    # resume from the checkpoint alone (its stored config), with two DataLoader workers
    assert main(["train", "--resume", str(last), "--set", "train.workers=2", "--no-progress"]) == 0
    a = torch.load(tmp_path / "full" / "checkpoints" / "last.pt", weights_only=False)
    b = torch.load(last, weights_only=False)
    assert b["extra"]["position"] == a["extra"]["position"]
    for k, v in a["model"].items():
        torch.testing.assert_close(b["model"][k], v, rtol=0, atol=1e-6, msg=k)
    assert b["extra"]["scheduler"]["_last_lr"] == a["extra"]["scheduler"]["_last_lr"]


@pytest.mark.slow
def test_torchrun_two_gloo_processes(tmp_path: Path, tiny_data: list[str]) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun is not None
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "movnect", "train", "--config",
           str(TINY_CONFIG), "--out", str(tmp_path / "ddp"), "--no-progress", "--set", "train.device='cpu'"]
    proc = subprocess.run(cmd + _sets(tiny_data), capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    # per process: (16 + 6) // 2 // 4 = 2 steps in pre2d, 16 // 2 // 4 = 2 per 3D epoch
    assert summary["world_size"] == 2 and summary["steps"] == 2 + 2 * 2
    assert summary["metrics"]["val/samples"] == 16  # both shards of the validation set
    ckpt = torch.load(tmp_path / "ddp" / "checkpoints" / "last.pt", weights_only=False)
    assert ckpt["extra"]["world_size"] == 2 and len(ckpt["extra"]["rng"]) == 2


def _err(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("movnect: error:")
    return err[0]


def test_one_line_errors(tmp_path: Path, tiny_data: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    base = ["train", "--config", str(TINY_CONFIG), "--no-progress", "--out", str(tmp_path / "r")] + _sets(tiny_data)
    assert main(base + ["--set", "stages.1.epochs=1", "--set", "stages.0.steps_per_epoch=1",
                        "--set", "stages.1.steps_per_epoch=1", "--set", "train.val_every=0"]) == 0
    capsys.readouterr()
    last = str(tmp_path / "r" / "checkpoints" / "last.pt")
    err = _err(base + ["--resume", last, "--set", "model.width=0.5"], capsys)
    assert "does not match the model config (width: checkpoint 0.35 vs config 0.5)" in err
    fresh = ["--out", str(tmp_path / "r2")]  # r holds a run: a new run there is refused (test_reliability)
    err = _err(base + fresh + ["--set", "model.name='litepose'", "--set", f"train.init_from='{last}'"], capsys)
    assert "train.init_from" in err and "does not match the model config" in err
    assert "unknown key(s) lr" in _err(base + ["--set", "train.lr=1"], capsys)
    assert "data.mpii is empty" in _err(base + fresh + ["--set", "stages.0.sources=['mpii']"], capsys)
    assert "train needs --config" in _err(["train"], capsys)
