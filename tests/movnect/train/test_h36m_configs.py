"""Each shipped Human3.6M config (teacher, student, the three distillation methods) runs as
docs/data.md says: two prepare-h36m runs on a generated release (train S1 S5 S6 S7 S8 at frame
step 5, test S9 S11 at step 64), the config unchanged except tiny sizes and data paths given
with --set, validation on held-out S8, then `movnect eval` of the result on the test file."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from movnect.cli import main
from movnect.data.synthetic import SynthConfig, write_release
from movnect.train.config import experiment_from_dict
from tests.movnect.data.fixtures import build_tiny_coco
from tests.movnect.data.test_keypoints2d import coco_doc, mpii_from_coco
from tests.movnect.train.conftest import ROOT

H36M_CONFIGS = ["teacher_h36m", "student_h36m", "distill_mimicry", "distill_dwpose", "distill_okdhp"]
# 81 frames: S8 has frames 0 and 80 at the configs' validation step 80, S9 / S11 frames 0 and 64
RELEASE = SynthConfig(subjects=("S1", "S5", "S6", "S7", "S8", "S9", "S11"), actions=("Walking",), subactions=1,
                      frames=81, cameras=("54138969",), image_size=96, seed=4)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("h36m_configs")
    write_release(root / "release", RELEASE)
    train, test = root / "h36m_train.h5", root / "h36m_test.h5"
    for out, subjects, step in ((train, "S1,S5,S6,S7,S8", "5"), (test, "S9,S11", "64")):  # docs/data.md
        assert main(["prepare-h36m", "--root", str(root / "release"), "--out", str(out), "--subjects", subjects,
                     "--frame-step", step, "--crop-size", "64", "--no-progress"]) == 0
    coco = build_tiny_coco(root / "coco")
    mpii = root / "mpii.json"
    mpii.write_text(json.dumps(mpii_from_coco(coco_doc(coco))))
    return {"train": train, "test": test, "coco": coco, "mpii": mpii}


def _tiny(config: str, data: dict[str, Path]) -> list[str]:
    """--set overrides: the data paths and tiny sizes; nothing about subjects, steps or losses."""
    stages = len(tomllib.loads((ROOT / "configs" / f"{config}.toml").read_text())["stages"])
    over = [f"data.h36m={data['train']}", f"data.coco={data['coco'] / 'annotations' / 'person_keypoints.json'}",
            f"data.coco_images={data['coco'] / 'images'}", f"data.mpii={data['mpii']}",
            f"data.mpii_images={data['coco'] / 'images'}", "codec.input_size=64", "train.device=cpu",
            "train.workers=0", "train.val_max_samples=2", "train.val_batch_size=2", "train.image_panels=0",
            "train.log_every=1", "train.ckpt_every=0"]
    for i in range(stages):
        over += [f"stages.{i}.epochs=1", f"stages.{i}.steps_per_epoch=1", f"stages.{i}.batch_size=2",
                 f"stages.{i}.schedule.warmup_steps=0"]
    return [x for v in over for x in ("--set", v)]


@pytest.mark.parametrize("config", H36M_CONFIGS)
def test_config_validates_on_a_held_out_training_subject(config: str) -> None:
    doc = tomllib.loads((ROOT / "configs" / f"{config}.toml").read_text())
    doc.pop("distill", None)  # the distillation table is teacher_student's; the rest is an experiment
    exp = experiment_from_dict(doc)
    assert not set(exp.data.val_subjects) & {"S9", "S11"} and not set(exp.data.train_subjects) & {"S9", "S11"}
    assert not set(exp.data.val_subjects) & set(exp.data.train_subjects)
    assert exp.data.h36m == "data/h36m_train.h5" and exp.data.val_frame_step % exp.data.train_frame_step == 0


@pytest.mark.slow
def test_every_h36m_config_runs_as_documented(tmp_path: Path, prepared: dict[str, Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    teacher = tmp_path / "teacher_h36m"
    for config in H36M_CONFIGS:
        out = tmp_path / config
        command = "train" if config.endswith("_h36m") else "distill"
        args = [command, "--config", str(ROOT / "configs" / f"{config}.toml"), "--out", str(out), "--no-progress"]
        args += _tiny(config, prepared)
        if config.startswith("distill_") and config != "distill_okdhp":
            args += ["--set", f"distill.teacher={teacher / 'checkpoints' / 'best.pt'}"]
        assert main(args) == 0, (config, capsys.readouterr().err[-2000:])
        summary = json.loads((out / "summary.json").read_text())
        assert "val/mpjpe" in summary["metrics"], config  # validated (on S8)
        model = out / "checkpoints" / ("best.pt" if command == "train" else "student.pt")
        assert model.is_file(), config
        capsys.readouterr()
        assert main(["eval", "--checkpoint", str(model), "--data", str(prepared["test"]), "--out",
                     str(out / "eval")]) == 0, config
        text = capsys.readouterr().out
        assert "frames of S9,S11, every 64th frame" in text, text
