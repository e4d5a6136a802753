"""The one place a TFLite interpreter class is found: LiteRT's `ai_edge_litert` (the default),
else the older `tflite_runtime`.

ai-edge-litert is the default because it is the maintained successor (Google renamed TFLite to
LiteRT; tflite-runtime's last release, 2.14.0, has no wheels past Python 3.11 nor for numpy 2),
ships XNNPACK, and is what litert-torch 0.10.0 (the export toolchain) installs: ai-edge-litert
2.x is verified by the test suite. tflite-runtime 2.14 exposes the same `Interpreter` API
(`model_path` / `model_content`, `num_threads`) and is accepted as a fallback on machines that
have only it.
"""
from __future__ import annotations

from typing import Any

BACKENDS = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter")
INSTALL_HINT = "pip install ai-edge-litert (or the older tflite-runtime)"


def interpreter_class() -> Any:
    """The `Interpreter` class of the first importable backend in BACKENDS; ImportError naming
    what to install when neither is."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter  # the same class in the older package
        except ImportError:
            raise ImportError(f"no TFLite interpreter installed: {INSTALL_HINT}") from None
    return Interpreter
