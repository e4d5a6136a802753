"""The steps since the training loop last synchronised with the device, kept on the device.

A training step never reads a device value on the host: its loss terms and its two finiteness
flags (loss, gradient norm) stay tensors here. At a sync point (a log interval, before every
checkpoint write) the loop asks `first_non_finite`, which reads every pending flag in one
transfer (one all-reduce across processes, so every process gets the same answer), and
`take_means`, which reads the logged averages in one transfer. A step whose loss is NaN is
therefore noticed at the next sync point at the latest, before anything is written from the
weights it spoiled.
"""
from __future__ import annotations

import time
from typing import NamedTuple

import torch
from torch import Tensor

from movnect.train.distributed import DistEnv, all_reduce_sum

CHECKS = ("loss", "gradient norm")  # the order of a step's finiteness flags


class StepRecord(NamedTuple):
    stage: str
    epoch: int                # 0-based, within the stage
    batch: int                # 0-based batch index within the epoch
    step: int                 # 1-based number of the step in the run
    parts: dict[str, Tensor]  # the step's detached loss terms (LossTerms.parts)


class StepWindow:
    """Pending finiteness flags since the last check, and loss sums since the last log."""

    def __init__(self) -> None:
        self._pending: list[tuple[StepRecord, Tensor]] = []
        self.start_log()

    def start_log(self) -> None:
        """Start a new log window (the loop does so at every log and at every epoch start)."""
        self._sums: dict[str, Tensor] = {}
        self._steps = 0
        self._samples = 0
        self._t0 = time.perf_counter()

    def add(self, record: StepRecord, finite: Tensor, samples: int) -> None:
        """One finished step. finite: (2,) bool on the device, [loss, gradient norm] finite
        (the gradient-norm flag is True where no norm was computed)."""
        if finite.shape != (len(CHECKS),):
            raise ValueError(f"StepWindow.add: finite must have shape ({len(CHECKS)},), got {tuple(finite.shape)}")
        self._pending.append((record, finite))
        for k, v in record.parts.items():
            self._sums[k] = self._sums[k] + v if k in self._sums else v  # never in place: parts stay the step's
        self._steps += 1
        self._samples += samples

    @property
    def pending(self) -> int:
        """Steps not yet checked for finiteness."""
        return len(self._pending)

    def first_non_finite(self, env: DistEnv) -> tuple[str, StepRecord] | None:
        """Check and forget the pending steps: (what, record) of the first step whose loss (or,
        failing that, gradient norm) was not finite on some process, else None. One host sync
        and, in a distributed run, one all-reduce; no work when nothing is pending."""
        if not self._pending:
            return None
        pending, self._pending = self._pending, []
        flags = torch.stack([f for _, f in pending]).to(torch.float32)  # (n, 2)
        counts = all_reduce_sum(flags, env).tolist()  # processes on which each flag held
        for (record, _), row in zip(pending, counts):
            for what, held in zip(CHECKS, row):
                if held < env.world_size:
                    return what, record
        return None

    def take_means(self) -> tuple[dict[str, float], float]:
        """(mean of every loss term over the log window's steps, samples per second on this
        process); starts a new log window. One host sync."""
        names = list(self._sums)
        values: list[float] = []
        if names:
            ref = self._sums[names[0]]
            values = torch.stack([self._sums[k].detach().float().to(ref.device) for k in names]).tolist()
        means = {k: v / self._steps for k, v in zip(names, values)}
        rate = self._samples / max(time.perf_counter() - self._t0, 1e-9)
        self.start_log()
        return means, rate
