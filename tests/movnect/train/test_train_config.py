"""Experiment config: strict parsing, overrides into stages, TOML round trip, shipped configs."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from movnect.config import ConfigError
from movnect.train.config import (
    ExperimentConfig, StageConfig, dump_toml, experiment_from_dict, experiment_to_dict, load_experiment,
)

ROOT = Path(__file__).resolve().parents[3]


def test_toml_round_trip_of_resolved_config() -> None:
    cfg = ExperimentConfig(stages=(StageConfig(name="a", kind="2d", sources=("coco", "mpii")), StageConfig(name="b")))
    text = dump_toml(experiment_to_dict(cfg))
    assert "[[stages]]" in text and "[stages.optimizer]" in text
    assert experiment_from_dict(tomllib.loads(text)) == cfg


def test_overrides_reach_array_of_tables(tmp_path: Path) -> None:
    p = tmp_path / "x.toml"
    p.write_text('[train]\nseed = 1\n\n[[stages]]\nname = "a"\n\n[[stages]]\nname = "b"\n[stages.optimizer]\nlr = 0.1\n')
    cfg = load_experiment(p, ["stages.1.optimizer.lr=0.5", "stages.0.epochs=3", "train.seed=7"])
    assert cfg.stages[1].optimizer.lr == 0.5 and cfg.stages[0].epochs == 3 and cfg.train.seed == 7


@pytest.mark.parametrize("data, message", [
    ({"train": {"sed": 1}}, "unknown key"),
    ({"stages": [{"kind": "4d"}]}, "not one of"),
    ({"stages": []}, "at least one"),
    ({"stages": [{"name": "a"}, {"name": "a"}]}, "unique"),
    ({"stages": [{"sources": ["imagenet"]}]}, "imagenet"),
    ({"model": {"num_joints": 16}}, "num_joints"),
    ({"stages": [{"schedule": {"milestones": [0.8, 0.2]}}]}, "milestones"),
])
def test_bad_configs_raise_config_errors(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        experiment_from_dict(data)


@pytest.mark.parametrize("name", ["teacher_h36m", "student_h36m", "teacher_synthetic", "student_synthetic"])
def test_shipped_configs_parse(name: str) -> None:
    cfg = load_experiment(ROOT / "configs" / f"{name}.toml")
    assert cfg.stages[0].kind == "2d" and cfg.stages[-1].kind == "3d"
    assert cfg.model.name == ("vnect" if name.startswith("teacher") else "movnect")
