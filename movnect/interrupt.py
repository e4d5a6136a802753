"""SIGINT, SIGTERM and SIGHUP: one request to stop, for every command (used by movnect.cli).

`interrupt_signals()` makes SIGTERM and SIGHUP behave like Ctrl-C (KeyboardInterrupt), so every
code path that finalises its outputs on Ctrl-C does so for all three; `stop_handler(flag)` is the
training commands' variant (first signal: save last.pt and stop after the step; second: abort).
An interrupted command exits with EXIT_INTERRUPTED = 130 (128 + SIGINT) whichever signal came;
see docs/failure.md. App layer: prints to stderr.
"""
from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable, Iterator

EXIT_INTERRUPTED = 130
INTERRUPT_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


def _raise_interrupt(_sig: int, _frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def interrupt_signals(handler: Callable[[int, object], None] = _raise_interrupt) -> Iterator[None]:
    """Route SIGINT, SIGTERM and SIGHUP to `handler` (default: raise KeyboardInterrupt, as
    Python does for SIGINT) while the block runs; the previous handlers come back after.
    Signals ignored at start (SIG_IGN) stay ignored; outside the main thread nothing changes."""
    previous: dict[int, object] = {}
    try:
        for sig in INTERRUPT_SIGNALS:
            if signal.getsignal(sig) == signal.SIG_IGN:
                continue
            try:
                previous[sig] = signal.signal(sig, handler)
            except ValueError:  # not the main thread: signals cannot be handled here
                break
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)  # type: ignore[arg-type]


def stop_handler(stop: list[bool]) -> Callable[[int, object], None]:
    """Training's handler: the first signal asks the loop to save last.pt and stop; a second aborts."""
    def on_signal(sig: int, _frame: object) -> None:
        if stop:
            raise KeyboardInterrupt
        stop.append(True)
        name = "Ctrl-C" if sig == signal.SIGINT else signal.Signals(sig).name
        print(f"\nmovnect: {name}: stopping after this step and saving last.pt (signal again to abort)",
              file=sys.stderr)
    return on_signal
