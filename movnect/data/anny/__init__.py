"""Rendered people for training: Anny body meshes, clothing-like textures, rooms, cameras.

Modules (lower never imports higher): `body` (the Anny model, phenotypes, skin tones),
`joints` (Human3.6M's 17 joints from the posed rig and mesh), `motion` (the stick-figure
motion generator's poses retargeted onto the Anny rig, random poses), `appearance` (clothing
regions and procedural textures), `scene` (rooms, furniture, cameras), `raster` (moderngl
on EGL: depth test, lights, MSAA), `degrade` (blur, noise, white balance, exposure),
`render` (one sequence of samples), `writer` (rows into the prepare-h36m HDF5 schema,
parallel and resumable), `release` (the official release layout: CDF + MP4 per camera).
docs/data.md describes the renderer, the joints and the licences.

Optional dependencies: `anny` and `moderngl` (the `synth` extra). `require()` turns a
missing one into a one-line error.
"""
from __future__ import annotations


class RendererUnavailable(ImportError):
    """The body model or the GL backend cannot be used here (one-line reason)."""


def require() -> None:
    """Raise RendererUnavailable naming what is missing (anny, moderngl, an EGL context)."""
    try:
        import anny  # noqa: F401
    except ImportError as exc:
        raise RendererUnavailable(
            f"the Anny renderer needs the body model package anny==0.6.2 ({exc}); "
            "install it with: pip install -e '.[synth]'") from None
    try:
        import moderngl  # noqa: F401
    except ImportError as exc:
        raise RendererUnavailable(
            f"the Anny renderer needs moderngl==5.13.0 for headless OpenGL ({exc}); "
            "install it with: pip install -e '.[synth]'") from None
