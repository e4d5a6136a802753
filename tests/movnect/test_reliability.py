"""Reliability and security cases of issue 19, kept so they stay fixed.

Each case failed before the fix: a crafted checkpoint ran code in every command that loads one;
a re-run overwrote a finished run; ... (see docs/failure.md for the behaviour these pin).
"""
from __future__ import annotations

import builtins
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from movnect.checkpoint import FORMAT, save_checkpoint
from movnect.cli import main
from movnect.codec import Codec, CodecConfig
from movnect.data.h36m import PrepareOptions, prepare_h36m
from movnect.data.synthetic import SynthConfig, write_release
from movnect.models import ModelConfig, build_model

CODEC = Codec(CodecConfig(input_size=64))
STUDENT = ModelConfig(name="movnect", width=0.25)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, needle: str = "") -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("movnect: error: ") and needle in lines[0], err


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny prepared release, a plain student checkpoint, an image and a short video."""
    root = tmp_path_factory.mktemp("reliability")
    write_release(root / "release", SynthConfig(subjects=("S1", "S9"), actions=("Walking",), subactions=1,
                                                frames=6, cameras=("54138969", "55011271"), image_size=200))
    h5 = root / "synth.h5"
    prepare_h36m(root / "release", h5, PrepareOptions(crop_size=64, frame_step=1))
    torch.manual_seed(3)
    good = root / "good.pt"
    save_checkpoint(good, build_model(STUDENT), STUDENT, CODEC)
    image = root / "a.png"
    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8))
    video = root / "v.avi"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (128, 96))
    for i in range(12):
        w.write(np.full((96, 128, 3), 10 * i, np.uint8))
    w.release()
    return {"root": root, "h5": h5, "good": good, "image": image, "video": video}


def config(files: dict[str, Path], path: Path, extra: str = "", distill: str = "") -> Path:
    """A tiny train (or, with `distill`, distillation) config on the prepared file."""
    path.write_text(f"""
[model]
name = "movnect"
width = 0.25
[codec]
input_size = 64
[data]
h36m = "{files['h5']}"
train_subjects = ["S1"]
val_subjects = ["S9"]
train_frame_step = 1
val_frame_step = 1
[data.augment]
enabled = false
[train]
device = "cpu"
amp = "off"
workers = 0
log_every = 1
ckpt_every = 0
val_max_samples = 4
val_batch_size = 4
image_panels = 0
{extra}
[[stages]]
name = "main"
kind = "3d"
sources = ["h36m"]
epochs = 1
steps_per_epoch = 2
batch_size = 4
{distill}
""")
    return path


# ---- 1. no code from a checkpoint -------------------------------------------------------------

class _Payload:
    """Unpickling this calls open(marker, "w"): the file appearing proves the pickle ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


def malicious_checkpoint(path: Path, marker: Path) -> Path:
    """A file that looks like a movnect checkpoint (format, config, weights) plus a payload."""
    torch.manual_seed(0)
    state = build_model(STUDENT).state_dict()
    from dataclasses import asdict

    torch.save({"format": FORMAT, "model_config": asdict(STUDENT), "codec": CODEC.to_dict(), "model": state,
                "extra": {"kind": "train-state", "note": _Payload(marker)}, "version": "0", "git": "x"}, path)
    return path


ENTRY_POINTS = ["info", "predict", "eval", "export", "demo", "train-resume", "train-init-from",
                "distill-teacher", "distill-init-from", "distill-resume"]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_malicious_checkpoint_runs_no_code(entry: str, files: dict[str, Path], tmp_path: Path, capsys) -> None:
    marker = tmp_path / "PWNED"
    evil = malicious_checkpoint(tmp_path / "evil.pt", marker)
    distill_teacher = f'[distill]\nmethod = "mimicry"\nteacher = "{files["good"]}"\n'
    argv = {
        "info": ["info", "--model", evil],
        "predict": ["predict", files["image"], "--model", evil, "--json", tmp_path / "p.json"],
        "eval": ["eval", "--data", files["h5"], "--checkpoint", evil, "--subjects", "S9", "--frame-step", "1"],
        "export": ["export", "--checkpoint", evil, "--format", "onnx", "--out", tmp_path / "m.onnx"],
        "demo": ["demo", "--source", files["video"], "--model", evil, "--max-frames", "2"],
        "train-resume": ["train", "--resume", evil, "--out", tmp_path / "run", "--no-progress"],
        "train-init-from": ["train", "--config", config(files, tmp_path / "t.toml", f'init_from = "{evil}"'),
                            "--out", tmp_path / "run", "--no-progress"],
        "distill-teacher": ["distill", "--config", config(files, tmp_path / "d1.toml", distill=(
                            f'[distill]\nmethod = "mimicry"\nteacher = "{evil}"\n')), "--out", tmp_path / "run",
                            "--no-progress"],
        "distill-init-from": ["distill", "--config", config(files, tmp_path / "d2.toml", f'init_from = "{evil}"',
                              distill_teacher), "--out", tmp_path / "run", "--no-progress"],
        "distill-resume": ["distill", "--config", config(files, tmp_path / "d3.toml", distill=distill_teacher),
                           "--resume", evil, "--out", tmp_path / "run", "--no-progress"],
    }[entry]
    code, _, err = run(capsys, *argv)
    assert not marker.exists(), f"{entry}: loading the checkpoint ran its payload"
    assert_one_line_error(code, err, f"checkpoint {evil} is refused")
    assert "io.open" in err  # names what it refused (builtins.open pickles as io.open)
    assert list(tmp_path.glob("p.json")) == [] and list(tmp_path.glob("m.onnx*")) == []


# ---- 2. no finished run overwritten, one process per output, names checked ---------------------

def test_rerun_without_resume_is_refused_and_keeps_the_finished_run(files, tmp_path, capsys) -> None:
    cfg, run_dir = config(files, tmp_path / "t.toml"), tmp_path / "run"
    code, _, err = run(capsys, "train", "--config", cfg, "--out", run_dir, "--no-progress")
    assert code == 0, err
    before = {p.name: p.read_bytes() for p in (run_dir / "checkpoints").glob("*.pt")}
    assert {"last.pt", "best.pt", "stage-main.pt"} <= set(before)
    metrics = (run_dir / "metrics.jsonl").read_text()
    code, _, err = run(capsys, "train", "--config", cfg, "--out", run_dir, "--no-progress")
    assert_one_line_error(code, err, f"run folder {run_dir} holds an earlier run")
    assert "--resume" in err and "--overwrite" in err
    assert {p.name: p.read_bytes() for p in (run_dir / "checkpoints").glob("*.pt")} == before
    assert (run_dir / "metrics.jsonl").read_text() == metrics
    code, _, err = run(capsys, "train", "--config", cfg, "--out", run_dir, "--no-progress", "--overwrite")
    assert code == 0, err
    assert (run_dir / "metrics.jsonl").read_text().count("\n") == metrics.count("\n")  # replaced, not appended


def test_distill_rerun_without_resume_is_refused(files, tmp_path, capsys) -> None:
    cfg = config(files, tmp_path / "d.toml", distill=f'[distill]\nmethod = "mimicry"\nteacher = "{files["good"]}"\n')
    run_dir = tmp_path / "run"
    code, _, err = run(capsys, "distill", "--config", cfg, "--out", run_dir, "--no-progress")
    assert code == 0, err
    student = (run_dir / "checkpoints" / "student.pt").read_bytes()
    code, _, err = run(capsys, "distill", "--config", cfg, "--out", run_dir, "--no-progress")
    assert_one_line_error(code, err, "holds an earlier run")
    assert (run_dir / "checkpoints" / "student.pt").read_bytes() == student


def test_second_process_on_one_run_folder_gets_one_line(files, tmp_path, capsys) -> None:
    from movnect.locks import FolderLock

    run_dir = tmp_path / "run"
    with FolderLock(run_dir / ".lock", "held by the test"):  # another process training there
        code, _, err = run(capsys, "train", "--config", config(files, tmp_path / "t.toml"), "--out", run_dir,
                           "--no-progress")
    assert_one_line_error(code, err, f"run folder {run_dir} is in use by another movnect process")
    assert not (run_dir / "checkpoints").exists()


def test_second_prepare_on_one_output_gets_one_line(files, tmp_path, capsys) -> None:
    from movnect.locks import FolderLock

    out = tmp_path / "x.h5"
    with FolderLock(tmp_path / "x.h5.parts" / ".lock", "held by the test"):
        code, _, err = run(capsys, "prepare-h36m", "--root", files["root"] / "release", "--out", out, "--no-progress")
    assert_one_line_error(code, err, "is in use by another movnect process")
    assert not out.exists()


@pytest.mark.parametrize("name", ["x/../../escaped", "..", ".hidden", "a/b", ""])
def test_stage_names_that_would_leave_the_run_folder_are_refused(name, files, tmp_path, capsys) -> None:
    cfg = config(files, tmp_path / "t.toml")
    code, _, err = run(capsys, "train", "--config", cfg, "--set", f"stages.0.name={name!r}", "--out",
                       tmp_path / "run", "--no-progress")
    assert_one_line_error(code, err, "cannot be used in a file name")
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "run").exists()


# ---- 3. an error in validation does not lose the epoch ------------------------------------------

def test_validation_error_keeps_the_epochs_checkpoint(files, tmp_path, capsys, monkeypatch) -> None:
    import movnect.train.loop as loop

    def broken(*args, **kwargs):
        raise RuntimeError("validation crashed")

    monkeypatch.setattr(loop, "validate", broken)
    run_dir = tmp_path / "run"
    code, _, err = run(capsys, "train", "--config", config(files, tmp_path / "t.toml"), "--out", run_dir,
                       "--no-progress")
    assert_one_line_error(code, err, "validation crashed")
    raw = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert raw["extra"]["position"] == {"stage": 1, "epoch": 0, "batch": 0, "step": 2}  # the whole epoch


# ---- 4. outputs (and the VMC receiver) checked before the work ----------------------------------

def _no_work(*args, **kwargs):
    raise AssertionError("the work started although the output could not be written")


def test_predict_json_that_is_a_folder_fails_before_the_model_runs(files, tmp_path, capsys, monkeypatch) -> None:
    import movnect.predict

    monkeypatch.setattr(movnect.predict, "load_estimator", _no_work)
    (tmp_path / "out").mkdir()
    code, _, err = run(capsys, "predict", files["image"], "--model", files["good"], "--json", tmp_path / "out")
    assert_one_line_error(code, err, "--json")
    assert "is a folder" in err


def test_eval_out_that_is_a_file_fails_before_evaluating(files, tmp_path, capsys, monkeypatch) -> None:
    import movnect.evaluate

    monkeypatch.setattr(movnect.evaluate, "evaluate", _no_work)
    (tmp_path / "report").write_text("not a folder")
    code, _, err = run(capsys, "eval", "--data", files["h5"], "--checkpoint", files["good"], "--subjects", "S9",
                       "--frame-step", "1", "--out", tmp_path / "report")
    assert_one_line_error(code, err, "--out")


def test_unresolvable_vmc_host_fails_before_any_frame(files, tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    code, _, err = run(capsys, "demo", "--source", files["video"], "--model", files["good"], "--out", out,
                       "--vmc", "no-such-host.invalid:39539", "--max-frames", "3")
    assert_one_line_error(code, err, "--vmc no-such-host.invalid:39539: cannot resolve host")
    assert not (out / "motion.bvh").exists() and not (out / "poses.jsonl").exists()



# ---- 5. outputs replaced whole or not at all ----------------------------------------------------

@pytest.mark.slow
def test_export_over_an_existing_model_on_a_full_disk_keeps_the_old_one(files, tmp_path, capsys, monkeypatch) -> None:
    import os

    out = tmp_path / "m.onnx"
    code, _, err = run(capsys, "export", "--checkpoint", files["good"], "--format", "onnx", "--out", out)
    assert code == 0, err
    old, old_sidecar = out.read_bytes(), (tmp_path / "m.onnx.json").read_text()

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    code, _, err = run(capsys, "export", "--checkpoint", files["good"], "--format", "onnx", "--out", out)
    assert_one_line_error(code, err, "No space left on device")
    assert out.read_bytes() == old and (tmp_path / "m.onnx.json").read_text() == old_sidecar
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.onnx.json"]  # no stray .tmp


def test_coreml_package_is_replaced_only_by_a_complete_one(files, tmp_path, capsys, monkeypatch) -> None:
    import mobile_export.coreml as coreml

    class FakePackage:  # stands in for coremltools' conversion (slow, and not what is tested here)
        def __init__(self, version: str, fail: bool = False) -> None:
            self.version, self.fail = version, fail

        def save(self, path: str) -> None:
            Path(path).mkdir()
            (Path(path) / "weights.bin").write_text(self.version)
            if self.fail:
                raise OSError(28, "No space left on device")

    out = tmp_path / "m.mlpackage"
    for version, fail in (("1", False), ("2", True)):
        monkeypatch.setattr(coreml, "convert_coreml", lambda *a, v=version, f=fail: FakePackage(v, f))
        run(capsys, "export", "--checkpoint", files["good"], "--format", "coreml", "--out", out)
    assert (out / "weights.bin").read_text() == "1"  # the failed save left the old package whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mlpackage", "m.mlpackage.json"]


# ---- 6. prepare-h36m: one-frame sequences, damaged shards, unreadable subjects -------------------

def _release(root: Path, frames: int) -> Path:
    write_release(root, SynthConfig(subjects=("S1", "S9"), actions=("Walking",), subactions=1, frames=frames,
                                    cameras=("54138969",), image_size=200))
    return root


def test_sequence_that_keeps_one_frame_converts(tmp_path, capsys) -> None:
    release = _release(tmp_path / "release", frames=4)
    out = tmp_path / "one.h5"
    code, stdout, err = run(capsys, "prepare-h36m", "--root", release, "--out", out, "--frame-step", "40",
                            "--crop-size", "64", "--no-progress")
    assert code == 0, err
    import h5py

    with h5py.File(out, "r") as f:
        assert f.attrs["rows"] == 2 and len(f["images"]) == 2 and list(f["frame"][...]) == [0, 0]
        assert cv2.imdecode(f["images"][0], cv2.IMREAD_COLOR).shape == (64, 64, 3)


def test_damaged_shard_is_named_removed_and_converted_again(tmp_path, capsys) -> None:
    release = _release(tmp_path / "release", frames=4)
    out = tmp_path / "d.h5"
    args = ["prepare-h36m", "--root", release, "--out", out, "--frame-step", "2", "--crop-size", "64", "--no-progress"]

    def stop_after_first(result, done, total):  # a run killed after its first shard
        raise KeyboardInterrupt

    from movnect.data import h36m

    with pytest.raises(KeyboardInterrupt):
        h36m.prepare_h36m(release, out, h36m.PrepareOptions(frame_step=2, crop_size=64), stop_after_first)
    shards = sorted((tmp_path / "d.h5.parts").glob("*.h5"))
    assert len(shards) == 1
    shards[0].write_bytes(shards[0].read_bytes()[:300])  # damaged: truncated
    code, stdout, err = run(capsys, *args)
    assert code == 0, err
    assert f"note damaged shard {shards[0]}" in stdout and "removed and converted again" in stdout
    import h5py

    with h5py.File(out, "r") as f:
        assert f.attrs["rows"] == 4 and bool(f.attrs["complete"])


def test_unreadable_subject_folder_is_an_error_naming_it(tmp_path, capsys, monkeypatch) -> None:
    import os

    release = _release(tmp_path / "release", frames=4)
    locked = release / "S9" / "MyPoseFeatures"
    listdir = os.listdir

    def no_access(path):  # chmod 000 does not stop root, so the refusal is simulated
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return listdir(path)

    monkeypatch.setattr(os, "listdir", no_access)
    monkeypatch.setattr(Path, "glob", _glob_without(locked))
    code, _, err = run(capsys, "prepare-h36m", "--root", release, "--out", tmp_path / "u.h5", "--no-progress")
    assert_one_line_error(code, err, f"subject S9: folder {locked} is unreadable")
    code, _, err = run(capsys, "prepare-h36m", "--root", release, "--out", tmp_path / "u.h5", "--subjects", "S1",
                       "--crop-size", "64", "--no-progress")
    assert code == 0, err  # leaving it out is the way on


def _glob_without(locked: Path):
    """Path.glob as it behaves on an unreadable folder: its contents are silently absent."""
    glob = Path.glob

    def patched(self, pattern):
        return (p for p in glob(self, pattern) if locked not in p.parents)

    return patched


# ---- 7. SIGTERM / SIGHUP are Ctrl-C: outputs finalised, exit code 130 ---------------------------

ROOT = Path(__file__).resolve().parents[2]

# Runs `movnect ARGS` in a child whose per-frame function `TARGET` first marks the file READY (the
# work has started: the signal lands mid-run, not during start-up) and then takes 50 ms (so the
# run is still going when the signal arrives).
_CHILD = """
import sys, time, importlib
from pathlib import Path
ready, target, args = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
module_name, _, attr = target.rpartition(".")
owner_name, _, method = attr.partition(":")
module = importlib.import_module(module_name)
owner = getattr(module, owner_name) if method else module
name = method or owner_name
real = getattr(owner, name)
def slow(*a, **k):
    ready.touch()
    time.sleep(0.05)
    return real(*a, **k)
setattr(owner, name, slow)
from movnect.cli import main
sys.exit(main(args))
"""


def _default_signals() -> None:
    """In the child before exec: default dispositions, as for a command started from a shell
    (a test run under nohup or in a background job would pass SIGHUP / SIGINT ignored)."""
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def _signal_run(tmp_path: Path, target: str, args: list[object], sig: int, timeout: float = 120.0):
    import os
    import subprocess
    import sys
    import time

    ready = tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(ready), target, *map(str, args)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=_default_signals)
    t0 = time.monotonic()
    while not ready.exists():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() - t0 < timeout, "the child never started its work"
        time.sleep(0.02)
    time.sleep(0.2)
    child.send_signal(sig)
    out, err = child.communicate(timeout=timeout)
    return child.returncode, out, err


def _long_video(path: Path, frames: int = 400) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (128, 96))
    for i in range(frames):
        w.write(np.full((96, 128, 3), i % 255, np.uint8))
    w.release()
    return path


@pytest.mark.slow
@pytest.mark.parametrize("sig_name", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_of_predict_write_the_frames_so_far(sig_name, files, tmp_path) -> None:
    import json
    import signal

    out = tmp_path / "p.json"
    code, _, err = _signal_run(tmp_path, "movnect.predict.predict_frame",
                               ["predict", _long_video(tmp_path / "v.avi"), "--model", files["good"], "--json", out],
                               getattr(signal, sig_name))
    assert code == 130, err
    assert err.strip().splitlines()[-1] == "movnect: interrupted"
    frames = json.loads(out.read_text())["frames"]
    assert 0 < len(frames) < 400 and [f["frame"] for f in frames] == list(range(len(frames)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json", "ready", "v.avi"]  # no stray .tmp


@pytest.mark.slow
def test_sigterm_of_demo_leaves_finalised_outputs(files, tmp_path) -> None:
    import json
    import signal

    out = tmp_path / "demo"
    code, stdout, err = _signal_run(tmp_path, "movnect.demo.render_overlay",
                                    ["demo", "--source", _long_video(tmp_path / "v.avi"), "--model", files["good"],
                                     "--out", out], signal.SIGTERM)
    assert code == 130, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] and 0 < summary["frames"] < 400
    cap = cv2.VideoCapture(str(out / "overlay.mp4"))  # playable: the writer was closed
    count = 0
    while cap.read()[0]:
        count += 1
    cap.release()
    assert count == summary["outputs"]["overlay_frames"] > 0
    lines = (out / "poses.jsonl").read_text().splitlines()
    assert len(lines) == summary["outputs"]["released_frames"] and all(json.loads(x) for x in lines)
    if (out / "motion.bvh").exists():  # written once the skeleton is personalised
        motion = (out / "motion.bvh").read_text().split("MOTION\n")[1].splitlines()
        assert int(motion[0].split()[1]) == len([x for x in motion[2:] if x.strip()])


@pytest.mark.slow
@pytest.mark.parametrize("sig_name", ["SIGINT", "SIGTERM"])
def test_train_stops_saves_and_exits_130(sig_name, files, tmp_path) -> None:
    import signal

    cfg = config(files, tmp_path / "t.toml").read_text().replace("steps_per_epoch = 2", "steps_per_epoch = 0")
    cfg = cfg.replace("epochs = 1", "epochs = 50")
    (tmp_path / "t.toml").write_text(cfg)
    run_dir = tmp_path / "run"
    code, stdout, err = _signal_run(tmp_path, "movnect.train.loop.Trainer:_train_step",
                                    ["train", "--config", tmp_path / "t.toml", "--out", run_dir, "--no-progress"],
                                    getattr(signal, sig_name))
    assert code == 130, err
    assert "stopping after this step and saving last.pt" in err and stdout.startswith("stopped after")
    raw = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert raw["extra"]["position"]["step"] > 0


# ---- 8. finite but absurd predictions are an error, not "MPJPE inf" -------------------------------

@pytest.mark.parametrize("value", [1e200, -2e5])
def test_absurd_predictions_name_the_row(value, files, tmp_path, capsys) -> None:
    from movnect.evaluate import Protocol, load_ground_truth

    gt = load_ground_truth(files["h5"], Protocol(("S9",), 1))
    joints = gt.joints3d.copy()
    joints[3, 5, 1] = value
    np.savez(tmp_path / "p.npz", index=gt.rows, joints3d=joints)
    code, _, err = run(capsys, "eval", "--data", files["h5"], "--predictions", tmp_path / "p.npz",
                       "--subjects", "S9", "--frame-step", "1")
    assert_one_line_error(code, err, f"joints3d row 3 (dataset row {gt.rows[3]}) joint")
    assert "sanity limit of 100000 mm" in err
    np.savez(tmp_path / "ok.npz", index=gt.rows, joints3d=gt.joints3d + 50.0)
    code, out, err = run(capsys, "eval", "--data", files["h5"], "--predictions", tmp_path / "ok.npz",
                         "--subjects", "S9", "--frame-step", "1")
    assert code == 0, err


# ---- full disk, on a small tmpfs where this machine lets the tests mount one -----------------------

@pytest.fixture
def small_disk(tmp_path: Path):
    """A 96 KiB tmpfs (root with mount rights only; skipped elsewhere), unmounted afterwards."""
    import os
    import subprocess

    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; the full-disk case is not run here")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"this machine does not allow mounting a tmpfs ({done.stderr.strip() or done.returncode})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


@pytest.mark.slow
def test_full_disk_keeps_old_outputs_whole(files, small_disk, tmp_path, capsys) -> None:
    import json

    old_json = small_disk / "p.json"
    old_json.write_text('{"frames": []}')
    code, _, err = run(capsys, "predict", _long_video(tmp_path / "v.avi", 200), "--model", files["good"],
                       "--json", old_json)  # ~160 KB of JSON
    assert_one_line_error(code, err, "No space left on device")
    assert json.loads(old_json.read_text()) == {"frames": []}

    old_model = small_disk / "m.onnx"
    old_model.write_bytes(b"old model")
    code, _, err = run(capsys, "export", "--checkpoint", files["good"], "--format", "onnx", "--out", old_model)
    assert_one_line_error(code, err, "No space left on device")
    assert old_model.read_bytes() == b"old model"

    from movnect.checkpoint import save_checkpoint

    ckpt = small_disk / "last.pt"
    ckpt.write_bytes(b"previous checkpoint")
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(ckpt, build_model(STUDENT), STUDENT, CODEC)  # ~1 MB of weights
    assert ckpt.read_bytes() == b"previous checkpoint"
    assert sorted(p.name for p in small_disk.iterdir()) == ["last.pt", "m.onnx", "p.json"]  # no stray .tmp
