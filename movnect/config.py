"""Dataclass configs read from TOML: strict (unknown keys are errors) and overridable.

Each part of the pipeline owns a frozen dataclass (ModelConfig in models/, CodecConfig in
codec.py, ...). This module only knows how to build any such dataclass from a nested dict,
how to apply `--set section.key=value` overrides and how to turn a config back into a dict
(for checkpoints and the run folder).
"""
from __future__ import annotations

import ast
import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or override that does not fit its dataclass."""


def from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Build dataclass `cls` from a (nested) dict; unknown keys and wrong types raise ConfigError."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls} is not a dataclass")
    if not isinstance(data, dict):
        raise ConfigError(f"{where or cls.__name__}: expected a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where or cls.__name__}: unknown key(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, f"{where}.{name}" if where else name)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where or cls.__name__}: {exc}") from None


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):  # a dataclass type, not an instance
        return from_dict(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(a, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: value {value!r} fits none of {tp}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, where) for v in value)
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_coerce(a, v, where) for a, v in zip(args, value))
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def to_dict(config: Any) -> dict[str, Any]:
    """Dataclass -> plain nested dict (tuples become lists, TOML/JSON friendly)."""

    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return v

    return conv(config)


def parse_override(text: str) -> tuple[list[str], Any]:
    """'train.lr=1e-3' -> (['train', 'lr'], 0.001). Values are Python/TOML-like literals;
    anything that does not parse as one is taken as a string."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    path = [p for p in key.strip().split(".") if p]
    if not path:
        raise ConfigError(f"override {text!r}: empty key")
    raw = raw.strip()
    lowered = {"true": True, "false": False}
    if raw.lower() in lowered:
        return path, lowered[raw.lower()]
    try:
        return path, ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return path, raw


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of nested dict `data` with each 'a.b=value' override applied."""
    import copy

    out = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        node = out
        for part in path[:-1]:
            # An integer part indexes an array of tables: 'stages.1.epochs=3'.
            if isinstance(node, list):
                node = _list_item(node, part, text)
            else:
                node = node.setdefault(part, {})
            if not isinstance(node, (dict, list)):
                raise ConfigError(f"override {text!r}: {part} is not a table")
        if isinstance(node, list):
            raise ConfigError(f"override {text!r}: set a key inside an array item, e.g. {text.split('=')[0]}.key=...")
        node[path[-1]] = value
    return out


def _list_item(items: list, part: str, text: str) -> Any:
    if not part.isdigit() or int(part) >= len(items):
        raise ConfigError(f"override {text!r}: {part!r} is not an index below {len(items)}")
    return items[int(part)]


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file with a one-line error for missing or malformed files."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        return tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from None


def load(cls: type[T], path: str | Path | None = None, overrides: list[str] | None = None) -> T:
    """Build `cls` from a TOML file (or defaults when path is None) plus overrides."""
    data = read_toml(path) if path is not None else {}
    return from_dict(cls, apply_overrides(data, overrides or []))
