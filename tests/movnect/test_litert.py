"""The TFLite interpreter is found in ai_edge_litert, else in tflite_runtime, else a one-line
ImportError says what to install (fake backend modules stand in for the packages)."""
import sys
import types

import pytest

from movnect.litert import interpreter_class


def _backend(monkeypatch, package: str, cls: type | None) -> None:
    """Make `package.interpreter` importable with Interpreter = cls, or unimportable (cls None)."""
    if cls is None:
        monkeypatch.setitem(sys.modules, package, None)  # None in sys.modules: import raises ImportError
        monkeypatch.setitem(sys.modules, f"{package}.interpreter", None)
        return
    pkg, mod = types.ModuleType(package), types.ModuleType(f"{package}.interpreter")
    mod.Interpreter = cls
    pkg.interpreter = mod
    monkeypatch.setitem(sys.modules, package, pkg)
    monkeypatch.setitem(sys.modules, f"{package}.interpreter", mod)


class LiteRT:
    pass


class TFLiteRuntime:
    pass


def test_ai_edge_litert_first(monkeypatch):
    _backend(monkeypatch, "ai_edge_litert", LiteRT)
    _backend(monkeypatch, "tflite_runtime", TFLiteRuntime)
    assert interpreter_class() is LiteRT


def test_tflite_runtime_when_litert_is_absent(monkeypatch):
    _backend(monkeypatch, "ai_edge_litert", None)
    _backend(monkeypatch, "tflite_runtime", TFLiteRuntime)
    assert interpreter_class() is TFLiteRuntime


def test_neither_names_what_to_install(monkeypatch):
    _backend(monkeypatch, "ai_edge_litert", None)
    _backend(monkeypatch, "tflite_runtime", None)
    with pytest.raises(ImportError, match=r"^no TFLite interpreter installed: pip install ai-edge-litert \(or the older tflite-runtime\)$"):
        interpreter_class()
