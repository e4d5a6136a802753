"""Import the optional export tools with errors that say what to install.

The exporters and runtimes live in the `export` extra (pyproject.toml); a user without them
gets one line naming the package and the pip command instead of a bare ModuleNotFoundError.
"""
from __future__ import annotations

import importlib
from types import ModuleType

# module -> (distribution, pip command)
PACKAGES: dict[str, tuple[str, str]] = {
    "coremltools": ("coremltools", "pip install 'coremltools==9.0'"),
    "litert_torch": ("litert-torch", "pip install 'litert-torch==0.10.0'"),
    "ai_edge_quantizer": ("ai-edge-quantizer", "pip install ai-edge-quantizer (installed with litert-torch)"),
    "ai_edge_litert": ("ai-edge-litert", "pip install ai-edge-litert (installed with litert-torch)"),
    "onnx": ("onnx", "pip install onnx"),
    "onnxscript": ("onnxscript", "pip install onnxscript (torch.onnx's dynamo exporter needs it)"),
    "onnxruntime": ("onnxruntime", "pip install onnxruntime"),
}
EXTRA_HINT = "or every export tool at once: pip install -e '.[export]'"


class ToolchainError(ImportError):
    """An export or runtime package that is not installed."""


def install_hint(module: str) -> str:
    dist, cmd = PACKAGES.get(module, (module, f"pip install {module}"))
    return f"{cmd}; {EXTRA_HINT}"


def require(module: str, purpose: str) -> ModuleType:
    """Import `module` or raise ToolchainError naming what `purpose` needs and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        dist = PACKAGES.get(module, (module, ""))[0]
        raise ToolchainError(
            f"{purpose} needs the Python package '{dist}', which is not installed or fails to "
            f"import ({type(exc).__name__}: {exc}); install it: {install_hint(module)}"
        ) from None
