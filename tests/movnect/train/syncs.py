"""Counting the host syncs and collectives that the project's own code makes, for the tests of
the sync-free training step (a CPU run has no device to wait for, so the calls that would wait
on a GPU are counted instead).

A call counts when the frame making it is in a project package (movnect/, teacher_student/):
torch's own internals (the optimiser's CPU step counters, the DataLoader's sampler) are not the
loop's doing and are sync-free on a GPU.
"""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from movnect.train.loop import Trainer

ROOT = Path(__file__).resolve().parents[3]
PROJECT = tuple(str(ROOT / p) + "/" for p in ("movnect", "teacher_student"))

# Tensor methods that copy a value to the host (on a GPU: wait for the device to get there)
HOST_READS = ("item", "tolist", "numpy", "cpu", "__array__", "__bool__", "__float__", "__int__",
              "__index__", "__format__")
COLLECTIVES = ("all_reduce", "all_gather", "all_gather_object", "broadcast", "broadcast_object_list",
               "barrier", "reduce", "gather_object")


def _counting(original: Any, name: str, calls: list[str]) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        frame = sys._getframe(1)
        if frame.f_code.co_filename.startswith(PROJECT):
            calls.append(f"{name} at {frame.f_code.co_filename}:{frame.f_lineno}")
        return original(*args, **kwargs)
    return wrapper


@contextlib.contextmanager
def counted(host_reads: bool = True, collectives: bool = True) -> Iterator[list[str]]:
    """Within the block, every project-made host read / collective appends a line to the list."""
    calls: list[str] = []
    saved: list[tuple[Any, str, Any]] = []
    targets = ([(torch.Tensor, n) for n in HOST_READS] if host_reads else []) + \
              ([(dist, n) for n in COLLECTIVES] if collectives else [])
    for owner, name in targets:
        original = getattr(owner, name)
        saved.append((owner, name, original))
        setattr(owner, name, _counting(original, name, calls))
    try:
        yield calls
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


class MarkingTrainer(Trainer):
    """Notes len(calls) when each step starts: `per_step(calls)` splits the count by step."""

    def __init__(self, *args: Any, calls: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls, self.marks = calls, []

    def _train_step(self, *args: Any, **kwargs: Any) -> Any:
        self.marks.append(len(self.calls))
        return super()._train_step(*args, **kwargs)

    def per_step(self) -> dict[int, list[str]]:
        """{step (1-based): the calls from its start to the next step's start (the last step:
        to now)}: its training, logging, checkpoint and stop checks, and an epoch's end."""
        ends = [*self.marks[1:], len(self.calls)]
        return {i + 1: self.calls[a:b] for i, (a, b) in enumerate(zip(self.marks, ends))}
