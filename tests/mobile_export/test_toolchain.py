"""require(): optional export packages fail with the install command."""
import sys

import pytest

from mobile_export.toolchain import ToolchainError, install_hint, require


def test_require_imports_installed_modules():
    assert require("json", "testing").dumps([1]) == "[1]"


def test_missing_module_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ToolchainError, match=r"running \.onnx models needs the Python package 'onnxruntime'.*pip install onnxruntime"):
        require("onnxruntime", "running .onnx models")
    assert isinstance(ToolchainError("x"), ImportError)
    assert "coremltools==9.0" in install_hint("coremltools") and "[export]" in install_hint("unknown_pkg")
