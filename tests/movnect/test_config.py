from dataclasses import dataclass, field
from typing import Literal

import pytest

from movnect.config import ConfigError, apply_overrides, from_dict, load, parse_override, to_dict


@dataclass(frozen=True)
class Inner:
    lr: float = 1e-3
    steps: int = 10
    name: Literal["adam", "sgd"] = "adam"


@dataclass(frozen=True)
class Outer:
    inner: Inner = field(default_factory=Inner)
    tags: tuple[str, ...] = ()
    size: tuple[int, int] = (256, 256)
    path: str | None = None
    flag: bool = False


def test_from_dict_builds_nested_and_coerces_ints_to_floats():
    cfg = from_dict(Outer, {"inner": {"lr": 1, "name": "sgd"}, "tags": ["a", "b"], "size": [128, 64]})
    assert cfg.inner == Inner(lr=1.0, steps=10, name="sgd")
    assert isinstance(cfg.inner.lr, float) and cfg.tags == ("a", "b") and cfg.size == (128, 64)


def test_unknown_keys_are_errors_naming_the_key_and_the_allowed_ones():
    with pytest.raises(ConfigError, match=r"inner: unknown key\(s\) learning_rate; allowed: lr, name, steps"):
        from_dict(Outer, {"inner": {"learning_rate": 1.0}})


@pytest.mark.parametrize("data, msg", [
    ({"inner": {"steps": 1.5}}, "inner.steps: expected an integer"),
    ({"inner": {"name": "rmsprop"}}, "not one of"),
    ({"flag": "yes"}, "flag: expected true/false"),
    ({"size": [1, 2, 3]}, "expected 2 values"),
    ({"inner": 3}, "expected a table"),
])
def test_type_errors(data, msg):
    with pytest.raises(ConfigError, match=msg):
        from_dict(Outer, data)


def test_overrides_parse_literals_and_strings():
    assert parse_override("inner.lr=1e-4") == (["inner", "lr"], 1e-4)
    assert parse_override("flag=true") == (["flag"], True)
    assert parse_override("path=runs/x") == (["path"], "runs/x")
    assert parse_override("tags=['a']") == (["tags"], ["a"])
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("inner.lr")
    out = apply_overrides({"inner": {"lr": 1.0}}, ["inner.steps=3", "flag=false"])
    assert out == {"inner": {"lr": 1.0, "steps": 3}, "flag": False}


def test_load_toml_round_trip(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('tags = ["x"]\n[inner]\nlr = 0.5\n')
    cfg = load(Outer, p, ["inner.steps=7"])
    assert cfg.inner.lr == 0.5 and cfg.inner.steps == 7
    assert from_dict(Outer, to_dict(cfg)) == cfg


def test_load_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load(Outer, tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[inner\nlr = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(Outer, bad)
