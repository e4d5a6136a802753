"""Atomic writes: the one way every output file (and the CoreML package folder) is written.

A reader sees the old file or the complete new one, never a part: data go to a temporary name
in the target's folder (`.<name>.<random>.tmp`), are flushed and fsynced, get the mode an
ordinary `open(path, "w")` would give (the existing file's mode, else 0o666 minus the umask;
`mkstemp` alone gives 0600), and are renamed over the target; the folder is fsynced so the
rename survives a power cut. On any failure (full disk, Ctrl-C, an exception in the writer) the
temporary file is removed and the old target is untouched.

  atomic_open(path, "w" | "wb")   context manager yielding the temporary file
  write_bytes / write_text / write_json / copy_file
  atomic_path(path)               a temporary path for a library that writes by name (h5py,
                                  cv2.VideoWriter, torch.save): committed on a clean exit, removed on error
  commit(tmp, path)               the last step of atomic_path: fsync, mode, rename
  atomic_dir(path)                a folder (CoreML .mlpackage): built beside, then swapped in
  check_output_file / check_output_dir   fail before the work if an output cannot be written

Conventions level: standard library only, importable from postprocess/ and mobile_export/.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_umask_lock = threading.Lock()


def _umask() -> int:
    with _umask_lock:  # os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def ordinary_mode(path: str | Path) -> int:
    """The permission bits `open(path, "w")` would leave: the existing file's, else 0o666 & ~umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


def _temp_name(path: Path, suffix: str = ".tmp") -> str:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return tmp


def commit(tmp: str | Path, path: str | Path, mode: int | None = None) -> None:
    """Make the finished file `tmp` the file `path`: fsync it, give it `mode` (default: the
    ordinary mode of `path`), rename it over `path`, fsync the folder. `tmp` is removed on failure."""
    tmp, path = Path(tmp), Path(path)
    try:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, ordinary_mode(path) if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_path(path: str | Path, temp: str | Path | None = None, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside `path` for a writer that takes a file name (h5py.File,
    cv2.VideoWriter, torch.save); on a clean exit `commit` makes it `path`, on an exception it
    is removed and `path` is untouched.

    temp: a fixed temporary name instead of a fresh `.<name>.<random><suffix>` (a large merge
    output, `<out>.partial`, that a rerun after a crash overwrites instead of leaving a second
    one). suffix: the fresh name's ending, for writers that pick the format by extension (".mp4").
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(temp) if temp is not None else Path(_temp_name(path, suffix))
    try:
        yield tmp
        commit(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Yield a file opened on a temporary name beside `path`; on a clean exit it replaces
    `path` (see the module docstring), on an exception it is removed. mode: "w" or "wb"."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    target_mode = ordinary_mode(path)
    tmp = _temp_name(path)
    try:
        with open(tmp, mode, encoding=None if mode == "wb" else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, target_mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as f:
        f.write(text)


def write_json(path: str | Path, obj: Any, indent: int | None = None) -> None:
    """JSON of `obj` (+ a final newline when indented), atomically."""
    write_text(path, json.dumps(obj, indent=indent) + ("\n" if indent is not None else ""))


def copy_file(src: str | Path, dst: str | Path) -> None:
    """Copy `src` to `dst` atomically (the copy gets `dst`'s ordinary mode)."""
    with open(src, "rb") as s, atomic_open(dst, "wb") as d:
        shutil.copyfileobj(s, d, 1 << 20)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `path`; fill it (e.g. save a CoreML package into
    it). On a clean exit it replaces `path`: the old folder is renamed aside, the new one renamed
    in, the old one deleted, so at every moment `path` is the complete old or the complete new
    folder (save a crash between the two renames, which leaves the old one as `.<name>.old-*`).
    On an exception the temporary folder is removed and `path` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp gives 0700
    try:
        yield tmp / path.name
        built = tmp / path.name
        if not built.exists():
            raise FileNotFoundError(f"atomic_dir: nothing was written to {built}")
        _fsync_tree(built)
        old = None
        if path.exists() or path.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            os.replace(path, old / path.name)
        os.replace(built, path)
        _fsync_dir(path.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _fsync_tree(root: Path) -> None:
    if root.is_file():
        paths = [root]
    else:
        paths = [p for p in root.rglob("*") if p.is_file()]
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _probe_folder(folder: Path, what: str) -> None:
    """OSError naming `what` unless a file can be created in `folder` (created if missing)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".movnect-write-test.", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise OSError(f"{what}: cannot write in {folder} ({exc.strerror or exc})") from None


def check_output_file(path: str | Path, what: str) -> Path:
    """Fail now (OSError naming `what`, e.g. '--json out.json') if `path` cannot be written as a
    file: it is a folder, or its folder cannot be created or written. Returns `path`."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{what}: {path} is a folder; give a file name")
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(f"{what}: {path} is not writable")
    _probe_folder(path.parent if str(path.parent) else Path("."), what)
    return path


def check_output_dir(path: str | Path, what: str) -> Path:
    """Fail now (OSError naming `what`) if `path` cannot be used as an output folder: it is a
    file, or it cannot be created or written in. Creates it. Returns `path`."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{what}: {path} is a file, not a folder")
    _probe_folder(path, what)
    return path
