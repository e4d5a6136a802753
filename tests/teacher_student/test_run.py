"""`movnect distill` end to end on a tiny generated synthetic release: teacher cache, runs of
each method, plain student checkpoints, resume from the run folder, one-line refusals."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from movnect.checkpoint import load_model, read_checkpoint, save_checkpoint
from movnect.cli import main
from movnect.codec import Codec, CodecConfig
from movnect.data.h36m import PrepareOptions, prepare_h36m
from movnect.data.synthetic import SynthConfig, write_release
from movnect.models import ModelConfig, build_model
from teacher_student.cache import TeacherCache

CODEC = Codec(CodecConfig(input_size=64))
TEACHER = ModelConfig(name="movnect", width=0.5)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("distill_run")
    write_release(root / "release", SynthConfig(subjects=("S1", "S9"), actions=("Walking",), subactions=1,
                                                frames=6, cameras=("54138969", "55011271"), image_size=200))
    h5 = root / "synth.h5"
    prepare_h36m(root / "release", h5, PrepareOptions(crop_size=64, frame_step=1))
    torch.manual_seed(3)
    teacher = root / "teacher.pt"
    save_checkpoint(teacher, build_model(TEACHER), TEACHER, CODEC)
    bad = root / "teacher_sigma2.pt"
    save_checkpoint(bad, build_model(TEACHER), TEACHER, Codec(CodecConfig(input_size=64, sigma=2.0)))
    return {"root": root, "h5": h5, "teacher": teacher, "bad": bad}


def _config(files: dict[str, Path], name: str, distill: str, augment: bool = False, head: bool = False) -> Path:
    stage = '[[stages]]\nname = "{n}"\nepochs = 1\nsteps_per_epoch = 2\nbatch_size = 4\n'
    text = f"""
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
enabled = {'true' if augment else 'false'}
[train]
device = "cpu"
amp = "off"
workers = 0
log_every = 1
ckpt_every = 0
val_max_samples = 4
val_batch_size = 4
image_panels = 0
{stage.format(n='main')}{stage.format(n='head') if head else ''}
{distill}
"""
    path = files["root"] / f"{name}.toml"
    path.write_text(text)
    return path


def test_cache_then_mimicry_run_writes_a_plain_student(files: dict[str, Path], tmp_path: Path, capsys) -> None:
    distill = f'[distill]\nmethod = "mimicry"\nteacher = "{files["teacher"]}"\ncache = "{tmp_path / "cache.h5"}"\n'
    cfg = _config(files, "mimicry", distill)
    assert main(["distill", "--config", str(cfg), "--build-cache", str(tmp_path / "cache.h5"), "--no-progress"]) == 0
    cache = TeacherCache(tmp_path / "cache.h5")
    assert len(cache) == 12 and not cache.has_feature  # 6 frames x 2 cameras of S1
    run = tmp_path / "run"
    assert main(["distill", "--config", str(cfg), "--out", str(run), "--no-progress"]) == 0
    assert "mimicry finished after 2 steps" in capsys.readouterr().out
    model, cfg_model, codec, raw = load_model(run / "checkpoints" / "student.pt")
    assert cfg_model == ModelConfig(name="movnect", width=0.25) and codec.to_dict() == CODEC.to_dict()
    assert raw["extra"]["kind"] == "distilled-student" and raw["extra"]["method"] == "mimicry"
    assert (run / "distill.toml").is_file() and (run / "summary.json").is_file()
    # --resume without --config finds the run's distill.toml
    assert main(["distill", "--resume", str(run / "checkpoints" / "last.pt"), "--no-progress"]) == 0


def test_dwpose_and_okdhp_runs(files: dict[str, Path], tmp_path: Path) -> None:
    dw = _config(files, "dwpose", f'[distill]\nmethod = "dwpose"\nteacher = "{files["teacher"]}"\n', augment=True, head=True)
    assert main(["distill", "--config", str(dw), "--out", str(tmp_path / "dw"), "--no-progress"]) == 0
    assert read_checkpoint(tmp_path / "dw" / "checkpoints" / "student.pt")["model_config"]["name"] == "movnect"
    okd = _config(files, "okdhp", '[distill]\nmethod = "okdhp"\n[distill.okdhp]\nbranches = 2\n')
    assert main(["distill", "--config", str(okd), "--out", str(tmp_path / "okd"), "--no-progress"]) == 0
    raw = read_checkpoint(tmp_path / "okd" / "checkpoints" / "student.pt")
    assert raw["extra"]["branch"] in (0, 1) and raw["extra"]["branches"] == 2


def test_refusals_are_one_line(files: dict[str, Path], tmp_path: Path, capsys) -> None:
    cfg = _config(files, "bad", f'[distill]\nmethod = "mimicry"\nteacher = "{files["bad"]}"\n')
    assert main(["distill", "--config", str(cfg), "--out", str(tmp_path / "a"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "another codec than the student" in err and "sigma 2.0 vs 1.0" in err
    cache = tmp_path / "c.h5"
    good = f'[distill]\nmethod = "mimicry"\nteacher = "{files["teacher"]}"\ncache = "{cache}"\n'
    assert main(["distill", "--config", str(_config(files, "c", good)), "--build-cache", str(cache), "--no-progress"]) == 0
    aug = _config(files, "aug", good, augment=True)
    assert main(["distill", "--config", str(aug), "--out", str(tmp_path / "b"), "--no-progress"]) == 2
    assert "un-augmented crops, but the training data are augmented" in capsys.readouterr().err
    assert main(["distill", "--no-progress"]) == 2
    assert "distill needs --config" in capsys.readouterr().err
    # pseudo-labelled rows are numbered in their own file: a cache of data.h36m rows would answer wrongly
    pseudo = ["--set", f"data.pseudo={files['h5']}", "--set", "stages.0.sources=['h36m', 'pseudo']"]
    assert main(["distill", "--config", str(_config(files, "p", good)), "--out", str(tmp_path / "p"),
                 "--no-progress", *pseudo]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "whose row numbers are another file's" in err


def test_a_cache_is_refused_for_another_data_file(files: dict[str, Path], tmp_path: Path, capsys) -> None:
    import shutil

    import h5py

    cache = tmp_path / "c.h5"
    good = f'[distill]\nmethod = "mimicry"\nteacher = "{files["teacher"]}"\ncache = "{cache}"\n'
    assert main(["distill", "--config", str(_config(files, "c2", good)), "--build-cache", str(cache), "--no-progress"]) == 0
    other = tmp_path / "other.h5"  # same rows, other frames: what used to be served stale maps
    shutil.copy(files["h5"], other)
    with h5py.File(other, "r+") as f:
        f["frame"][0] = f["frame"][0] + 1
    cfg = _config({**files, "h5": other}, "c3", good)
    assert main(["distill", "--config", str(cfg), "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(files["h5"]) in err and str(other) in err and "rebuild the cache" in err


# ---- DWPose export: the better of stage 1 and stage 2 by validation --------------------------

def _dwpose_run(tmp_path: Path, teacher: Path, scripted: list[float] | None, monkeypatch) -> dict:
    from movnect.train import loop
    from movnect.train.config import ExperimentConfig, OptimizerConfig, StageConfig, TrainConfig
    from movnect.train.distributed import DistEnv
    from teacher_student.config import DistillConfig, DWPoseConfig
    from teacher_student.run import run_distillation
    from tests.teacher_student.toy_data import ToyPoseDataset

    if scripted is not None:  # validation figures in the order the loop asks for them
        values = iter(scripted)
        monkeypatch.setattr(loop, "validate", lambda *a, **k: ({"val/mpjpe": next(values), "val/samples": 4.0}, None))
    stages = tuple(StageConfig(name=n, kind="3d", epochs=2, steps_per_epoch=2, batch_size=4,
                               optimizer=OptimizerConfig(lr=3e-3)) for n in ("distill", "head"))
    exp = ExperimentConfig(model=ModelConfig(name="movnect", width=0.25), codec=CODEC.config, stages=stages,
                           train=TrainConfig(workers=0, log_every=5, ckpt_every=0, val_batch_size=4,
                                             image_panels=0, val_max_samples=4))
    distill = DistillConfig(method="dwpose", teacher=str(teacher), dwpose=DWPoseConfig(self_kd_stage="head"))
    torch.manual_seed(0)
    return run_distillation(exp, distill, tmp_path, [ToyPoseDataset(8, CODEC)] * 2, ToyPoseDataset(4, CODEC, seed=9),
                            DistEnv(0, 1, 0, torch.device("cpu")), augmented=False)


def _same_weights(a: Path, b: Path) -> bool:
    x, y = read_checkpoint(a)["model"], read_checkpoint(b)["model"]
    return all(torch.equal(x[k], y[k]) for k in x)


@pytest.mark.parametrize("scripted, chosen, source", [
    ([200.0, 150.0, 180.0, 170.0], "stage1", "stage-distill.pt"),  # stage 2 validates worse: keep stage 1
    ([200.0, 150.0, 140.0, 160.0], "stage2", "best-head.pt"),      # stage 2's first epoch is the best
])
def test_dwpose_exports_the_stage_that_validates_better(files: dict[str, Path], tmp_path: Path, monkeypatch,
                                                        scripted: list[float], chosen: str, source: str) -> None:
    summary = _dwpose_run(tmp_path, files["teacher"], scripted, monkeypatch)
    ck = tmp_path / "checkpoints"
    choice = summary["dwpose_export"]
    assert choice["chosen"] == chosen and "lower validation val/mpjpe" in choice["rule"]
    assert choice["stage1"]["val_value"] == 150.0 and choice["stage2"]["val_value"] == min(scripted[2:])
    assert (ck / "student-stage1.pt").is_file() and (ck / "student-stage2.pt").is_file()  # both kept
    assert _same_weights(ck / "student.pt", ck / source)
    assert _same_weights(ck / "student-stage1.pt", ck / "stage-distill.pt")  # stage 1's best = its end here
    assert read_checkpoint(ck / "student.pt")["extra"]["dwpose_export"]["chosen"] == chosen
    # best.pt is the best over both stages (same figure), not stage 2's best alone
    assert summary["best"]["value"] == min(scripted) and summary["stage_best"]["head"]["value"] == min(scripted[2:])


def test_dwpose_export_with_real_validation(files: dict[str, Path], tmp_path: Path, monkeypatch) -> None:
    summary = _dwpose_run(tmp_path, files["teacher"], None, monkeypatch)
    c = summary["dwpose_export"]
    better = "stage1" if c["stage1"]["val_value"] <= c["stage2"]["val_value"] else "stage2"
    assert c["chosen"] == better
    assert _same_weights(tmp_path / "checkpoints" / "student.pt", tmp_path / "checkpoints" / f"student-{better}.pt")


def _unlabelled_crops(files: dict[str, Path], path: Path, n: int = 8) -> Path:
    """Crops without labels: the synthetic file's first n images (people), as `movnect crops` writes them."""
    import cv2
    import h5py
    import numpy as np

    from movnect.data.unlabelled import write_crops

    with h5py.File(files["h5"], "r") as f:
        crops = [cv2.cvtColor(cv2.imdecode(f["images"][i], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for i in range(n)]
    return write_crops(path, np.stack(crops))


def test_unlabelled_footage_is_distilled_by_the_teacher_alone(files: dict[str, Path], tmp_path: Path, capsys) -> None:
    from movnect.data.unlabelled import UnlabelledCrops
    from movnect.train.run import run_training
    from teacher_student.losses import mimicry_heatmap_loss, mimicry_location_loss
    from teacher_student.run import run_distill_from_config

    crops = _unlabelled_crops(files, tmp_path / "crops.h5")
    # a fresh network's map layers start at zero: give the teacher's last layer weights so
    # that its maps say something (a blob per joint that depends on the image)
    torch.manual_seed(5)
    net = build_model(TEACHER)
    last = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    torch.nn.init.normal_(last.weight, std=0.3)
    torch.nn.init.constant_(last.bias, 0.2)
    teacher_file = tmp_path / "teacher.pt"
    save_checkpoint(teacher_file, net, TEACHER, CODEC)
    cfg = _config(files, "unl", f'[distill]\nmethod = "mimicry"\nteacher = "{teacher_file}"\n')
    over = [f"data.unlabelled={crops}", "stages.0.sources=['h36m', 'unlabelled']", "stages.0.source_weights=[1.0, 2.0]",
            "stages.0.steps_per_epoch=0", "stages.0.epochs=8", "stages.0.optimizer.lr=3e-3", "train.val_every=0"]
    losses: list[float] = []
    summary = run_distill_from_config(cfg, over, out=tmp_path / "run", on_step=lambda r: losses.append(r.loss))
    # S1: 12 rows (2 cameras x 6 frames) + 2 x 8 crops = 28 samples, batch 4: 7 steps per epoch
    assert summary["steps"] == len(losses) == 8 * 7
    assert sum(losses[-7:]) < 0.8 * sum(losses[:7]), (losses[:7], losses[-7:])
    # trained on the unlabelled rows alone, the student moves towards the teacher there
    alone = [f"data.unlabelled={crops}", "stages.0.sources=['unlabelled']", "stages.0.steps_per_epoch=0",
             "stages.0.epochs=10", "stages.0.optimizer.lr=3e-3", "train.val_every=0"]
    run_distill_from_config(cfg, alone, out=tmp_path / "alone")
    ds = UnlabelledCrops(crops, CODEC)
    batch = {k: torch.stack([ds[i][k] for i in range(len(ds))]) for k in ds[0]}
    teacher, _, _, _ = load_model(teacher_file)
    student, cfg_s, _, _ = load_model(tmp_path / "alone" / "checkpoints" / "student.pt")
    torch.manual_seed(0)
    start = build_model(cfg_s)

    def teacher_terms(model: torch.nn.Module, gt_noise: float = 0.0) -> float:
        with torch.no_grad():
            hs, ls = CODEC.split(model.eval()(batch["image"]).maps)
            ht, lt = CODEC.split(teacher.eval()(batch["image"]).maps)
            heat_gt = batch["heatmaps"] + gt_noise * torch.rand_like(batch["heatmaps"])  # any, under mask2d 0
            loc_gt = batch["locmaps"] + gt_noise * torch.rand_like(batch["locmaps"])     # any, with nothing drawn
            return float(mimicry_heatmap_loss(hs, heat_gt, ht, batch["mask2d"], 0.5)
                         + mimicry_location_loss(ls, loc_gt, lt, batch["heatmaps"], ht, batch["mask2d"],
                                                 batch["has3d"], 0.5))

    before, after = teacher_terms(start), teacher_terms(student)
    assert before > 1.0 and after < 0.7 * before, (before, after)  # measured 2.87 -> 1.52
    # the labels of unlabelled rows (zero maps, mask2d 0, has3d 0) are not read: any target gives the same loss
    assert teacher_terms(student, gt_noise=5.0) == pytest.approx(teacher_terms(student), rel=1e-6)
    # runs without a teacher refuse the source, in one line
    okd = _config(files, "okd_unl", '[distill]\nmethod = "okdhp"\n')
    assert main(["distill", "--config", str(okd), "--out", str(tmp_path / "o"), "--no-progress", "--set",
                 f"data.unlabelled={crops}", "--set", "stages.0.sources=['unlabelled']"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "carries no labels and distill.method 'okdhp' has no teacher" in err
    from movnect.config import ConfigError

    with pytest.raises(ConfigError, match="`movnect train` has no teacher"):
        run_training(_config(files, "sup", ""), [f"data.unlabelled={crops}", "stages.0.sources=['unlabelled']"],
                     out=tmp_path / "t")
