"""Advisory locks on output folders, and checks of names that become parts of paths.

`FolderLock(path)` takes an exclusive `fcntl.flock` on the file `path` (created if needed and
kept: deleting a lock file while another process may open it would let two processes lock
different files). The kernel drops the lock when the holder exits however it exits (SIGKILL
included), so a stale lock never blocks a later run. A second process asking for the lock
gets `LockedError` at once, naming the holder's pid. Where `fcntl` does not exist (Windows)
the lock is a no-op.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class LockedError(OSError):
    """Another process holds the lock of an output this process was about to write."""


class FolderLock:
    """Exclusive, non-blocking lock on `path`; use as a context manager or call release()."""

    def __init__(self, path: str | Path, what: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        if fcntl is None:  # pragma: no cover
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(self._fd)
            self._fd = None
            raise LockedError(f"{what} is in use by another movnect process (pid {holder}, lock {self.path}); "
                              "wait for it to finish or choose another output") from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> "FolderLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")


def check_path_name(name: str, what: str) -> str:
    """`name` if it is safe as one file-name component (letters, digits, _ . + -, not starting
    with '.', no '/' and no '..'); ValueError naming `what` otherwise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name or len(name) > 100:
        raise ValueError(f"{what} {name!r} cannot be used in a file name: use letters, digits and _ . + - "
                         "(not starting with '.', no '/' or '..', at most 100 characters)")
    return name
