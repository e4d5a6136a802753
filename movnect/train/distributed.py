"""Process-group set-up for `torchrun`, and the deterministic, resumable distributed sampler.

`torchrun --nproc_per_node N -m movnect train ...` sets RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR and MASTER_PORT; `setup_distributed` joins the group with init_method env://,
backend nccl on CUDA and gloo on CPU. Without those variables it is a single process and
nothing is initialised.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler


@dataclass(frozen=True)
class DistEnv:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(preference: str, local_rank: int = 0) -> torch.device:
    """'auto' -> cuda:<local_rank> when available, else cpu; 'cuda' without CUDA is an error."""
    if preference == "cpu":
        return torch.device("cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise ValueError("train.device = 'cuda' but torch reports no CUDA device")
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def setup_distributed(device_preference: str = "auto") -> DistEnv:
    """Join the torchrun process group if the launcher's variables are set."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_preference, local)
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", init_method="env://")
    return DistEnv(rank, world, local, device)


def teardown_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """Sum a tensor over processes (returns it unchanged in a single process)."""
    if env.distributed:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def average_buffers(module: torch.nn.Module, env: DistEnv) -> None:
    """Average floating-point buffers (BatchNorm running statistics) over processes.

    DDP broadcasts rank 0's buffers at each forward, but every rank then updates its own
    copy; averaging before validation and checkpoints makes all replicas identical and uses
    every process's statistics.
    """
    if not env.distributed:
        return
    for buf in module.buffers():
        if buf.is_floating_point():
            dist.all_reduce(buf.data, op=dist.ReduceOp.SUM)
            buf.data /= env.world_size


def wrap_ddp(module: torch.nn.Module, env: DistEnv) -> torch.nn.Module:
    """`module` on the process's device, inside DistributedDataParallel in a distributed run
    (device_ids: the process's GPU on CUDA, none on CPU) and as it is in a single process.

    DDP records at construction which parameters require gradients, so a module whose set of
    trainable parameters changes (a frozen backbone) needs a new wrapper.
    """
    module = module.to(env.device)
    if not env.distributed:
        return module
    ids = [env.device.index] if env.device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)


def barrier(env: DistEnv) -> None:
    if env.distributed:
        dist.barrier()


class ResumableSampler(DistributedSampler):
    """DistributedSampler (seeded, epoch-based shuffling, rank sharding) that can start an
    epoch after its first `skip_batches` batches, and that hands each index a sample seed.

    Yields (index, sample_seed) pairs; wrap the dataset in `SeededDataset` to consume them.
    The seed is a function of (seed, epoch, index) only, so augmentation is the same whatever
    the number of workers and whether the run was interrupted and resumed.
    """

    def __init__(self, dataset: Dataset, batch_size: int, num_replicas: int, rank: int,
                 seed: int, shuffle: bool = True) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle,
                         seed=seed, drop_last=True)
        self.batch_size = batch_size
        self.skip_batches = 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:  # type: ignore[override]
        super().set_epoch(epoch)
        self.skip_batches = skip_batches

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        indices = list(super().__iter__())[self.skip_batches * self.batch_size :]
        for i in indices:
            yield i, sample_seed(self.seed, self.epoch, i)

    def __len__(self) -> int:
        return max(self.num_samples - self.skip_batches * self.batch_size, 0)


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 32-bit seed from (run seed, epoch, dataset index)."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


class SeededDataset(Dataset):
    """Wraps a map-style dataset: item (index, seed) seeds python `random`, numpy's global
    RNG and torch's CPU RNG with `seed`, fetches `dataset[index]`, then restores the caller's
    RNG states (so the training process's own RNG stream is untouched)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> dict:
        import random

        index, seed = key
        saved = (random.getstate(), np.random.get_state(), torch.random.get_rng_state())
        random.seed(seed)
        np.random.seed(seed)
        torch.default_generator.manual_seed(seed)  # CPU only: CUDA streams stay untouched
        try:
            return self.dataset[index]
        finally:
            random.setstate(saved[0])
            np.random.set_state(saved[1])
            torch.random.set_rng_state(saved[2])
