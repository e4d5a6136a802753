"""Distillation config: shipped files parse, overrides reach [distill], bad combinations refused."""
from __future__ import annotations

from pathlib import Path

import pytest

from movnect.config import ConfigError
from teacher_student.config import DistillConfig, load_distill_experiment

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("method", ["mimicry", "dwpose", "okdhp"])
def test_shipped_configs_parse(method: str) -> None:
    exp, distill = load_distill_experiment(ROOT / "configs" / f"distill_{method}.toml")
    assert distill.method == method and exp.model.name == "movnect"
    if method == "dwpose":
        assert exp.stages[-1].name == distill.dwpose.self_kd_stage and exp.train.grad_clip == 1.0


def test_the_unlabelled_adaptation_recipe_parses() -> None:
    from movnect.train.data import check_sources

    exp, distill = load_distill_experiment(ROOT / "configs" / "adapt_unlabelled.toml")
    assert distill.method == "mimicry" and exp.stages[0].sources == ("h36m", "unlabelled")
    assert exp.data.unlabelled and exp.train.init_from == "movnect/resources/default_student.pt"
    check_sources(exp, distill.method)  # a teacher acts on the unlabelled rows: accepted
    with pytest.raises(ConfigError, match="carries no labels"):
        check_sources(exp, "")


def _write(tmp: Path, distill: str, stages: str = '[[stages]]\nname = "main"\n', model: str = "movnect") -> Path:
    p = tmp / "c.toml"
    p.write_text(f'[model]\nname = "{model}"\n{stages}\n{distill}')
    return p


def test_overrides_reach_the_distill_table(tmp_path: Path) -> None:
    p = _write(tmp_path, '[distill]\nmethod = "mimicry"\nteacher = "t.pt"\n')
    exp, d = load_distill_experiment(p, ["distill.mimicry.alpha=0.2", "train.seed=3"])
    assert d.mimicry.alpha == 0.2 and exp.train.seed == 3


@pytest.mark.parametrize("text, overrides, match", [
    ('[distill]\nmethod = "mimicry"\n', [], "needs distill.teacher"),
    ('[distill]\nmethod = "okdhp"\nteacher = "t.pt"\n', [], "trains without a teacher"),
    ('[distill]\nmethod = "distil"\n', [], r"'distil' is not one of"),
    ('[distill]\nmethod = "mimicry"\nteacher = "t.pt"\nalpha = 0.5\n', [], "unknown key"),
    ('[distill]\nmethod = "mimicry"\nteacher = "t.pt"\n', ["distill.mimicry.alpha=1.5"], r"alpha must lie in \[0, 1\]"),
    ('[distill]\nmethod = "dwpose"\nteacher = "t.pt"\n', [], "'head' names no stage"),
    ('[distill]\nmethod = "okdhp"\n[distill.okdhp]\nbranches = 1\n', [], "branches must be >= 2"),
    ('[distill]\nmethod = "okdhp"\n[distill.okdhp]\ndivergence = "js"\n', [], "not one of"),
])
def test_bad_configs_are_refused(tmp_path: Path, text: str, overrides: list[str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_distill_experiment(_write(tmp_path, text), overrides)


def test_dwpose_self_kd_stage_must_be_last(tmp_path: Path) -> None:
    stages = '[[stages]]\nname = "head"\n[[stages]]\nname = "main"\n'
    with pytest.raises(ConfigError, match="must be the last of at least two stages"):
        load_distill_experiment(_write(tmp_path, '[distill]\nmethod = "dwpose"\nteacher = "t.pt"\n', stages))
    exp, d = load_distill_experiment(_write(tmp_path, '[distill]\nmethod = "dwpose"\nteacher = "t.pt"\n'
                                                      '[distill.dwpose]\nself_kd_stage = ""\n'))
    assert d.dwpose.self_kd_stage == ""  # stage 1 only


def test_okdhp_needs_movnect_and_a_missing_table_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="multi-branch MoVNect; model.name is 'litepose'"):
        load_distill_experiment(_write(tmp_path, '[distill]\nmethod = "okdhp"\n', model="litepose"))
    p = tmp_path / "plain.toml"
    p.write_text('[model]\nname = "movnect"\n')
    with pytest.raises(ConfigError, match=r"needs a \[distill\] table"):
        load_distill_experiment(p)
    assert DistillConfig(method="okdhp").uses_teacher is False
