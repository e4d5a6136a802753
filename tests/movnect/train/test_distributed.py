"""Resumable sampler (seeded shuffles, sharding, skipping) and per-sample seeding."""
from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import Dataset

from movnect.train.distributed import DistEnv, ResumableSampler, SeededDataset, average_buffers, sample_seed


class _Draw(Dataset):
    def __len__(self) -> int:
        return 10

    def __getitem__(self, i: int) -> tuple[int, float, float, float]:
        return i, random.random(), float(np.random.rand()), float(torch.rand(()))


def test_epoch_shuffles_are_seeded_and_shards_partition() -> None:
    ds = list(range(10))
    a = ResumableSampler(ds, 2, 2, 0, seed=3)
    b = ResumableSampler(ds, 2, 2, 1, seed=3)
    a.set_epoch(1)
    b.set_epoch(1)
    ia, ib = [i for i, _ in a], [i for i, _ in b]
    assert len(ia) == len(ib) == 5 and sorted(ia + ib) == list(range(10))
    again = ResumableSampler(ds, 2, 2, 0, seed=3)
    again.set_epoch(1)
    assert [i for i, _ in again] == ia
    again.set_epoch(2)
    assert [i for i, _ in again] != ia


def test_skip_batches_continues_the_same_epoch_order() -> None:
    ds = list(range(12))
    s = ResumableSampler(ds, 3, 1, 0, seed=0)
    s.set_epoch(4)
    full = list(s)
    s.set_epoch(4, skip_batches=2)
    assert list(s) == full[6:] and len(s) == 6


def test_seeded_dataset_draws_depend_on_seed_only_and_restore_caller_rng() -> None:
    ds = SeededDataset(_Draw())
    seed = sample_seed(0, 1, 7)
    assert seed == sample_seed(0, 1, 7) != sample_seed(0, 2, 7)
    torch.manual_seed(5)
    before = torch.rand(3)
    torch.manual_seed(5)
    first = ds[(7, seed)]
    after = torch.rand(3)
    torch.testing.assert_close(after, before)  # the caller's stream is unchanged
    random.random(), np.random.rand()  # disturb the global generators
    assert ds[(7, seed)] == first


def test_average_buffers_is_a_no_op_in_one_process() -> None:
    bn = torch.nn.BatchNorm1d(2)
    bn.running_mean += 3
    average_buffers(bn, DistEnv(0, 1, 0, torch.device("cpu")))
    assert bn.running_mean.tolist() == [3.0, 3.0]
