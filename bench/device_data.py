"""Training samples decoded once and held in memory (on the GPU for `--device cuda` runs).

The benchmark's CUDA path trains many small students at once on one GPU; decoding JPEG crops
and encoding targets per step in every process would cost more CPU than the 16 cores have and
starve the GPU. So the un-augmented samples of a split are decoded ONCE (by the driver, into
one torch file in the work folder), and every run process loads that file onto its device.

    decode_split(h5, codec, subjects, frame_step, out)   -> the torch file (reused if present)
    DecodedDataset(path, device)                           -> map-style Dataset of sample dicts

A DecodedDataset on CUDA sets `device_resident = True`: the training loop then does not pin its
batches (pinning is for host memory; movnect.train.loop). Its items are views of the stored
tensors (no copy); the DataLoader's collate stacks them on the device. It holds no
augmentation: the CUDA sweep trains without it (the CPU grid measured augmentation costing
~80 mm of validation MPJPE at these budgets, docs/distillation.md).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from movnect.checkpoint import atomic_torch_save
from movnect.codec import Codec
from movnect.data.dataset import H36MDataset
from movnect.data.transforms import NO_AUGMENT

FORMAT = "movnect-decoded-split/1"


def decode_split(h5: str | Path, codec: Codec, subjects: tuple[str, ...], frame_step: int, out: str | Path,
                 workers: int = 0, batch_size: int = 256) -> Path:
    """Decode every un-augmented sample of (subjects, frame_step) of `h5` into `out` (a torch
    file: {format, source, key: stacked tensor}); reused when `out` exists for the same source."""
    out = Path(out)
    st = os.stat(h5)
    source = {"h5": str(Path(h5).resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
              "subjects": list(subjects), "frame_step": frame_step, "codec": codec.to_dict()}
    if out.is_file():
        head = torch.load(out, map_location="cpu", weights_only=True, mmap=True)
        if head.get("format") == FORMAT and head.get("source") == source:
            return out
    ds = H36MDataset(h5, codec, subjects, frame_step, NO_AUGMENT, seed=0)
    parts: dict[str, list[torch.Tensor]] = {}
    for batch in DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=workers):
        for k, v in batch.items():
            if isinstance(v, torch.Tensor):
                parts.setdefault(k, []).append(v)
    tensors = {k: torch.cat(v) for k, v in parts.items()}
    atomic_torch_save({"format": FORMAT, "source": source, "tensors": tensors}, out)
    return out


class DecodedDataset(Dataset):
    """Samples of a `decode_split` file, every tensor on `device`. Item i = {key: tensors[key][i]}."""

    def __init__(self, path: str | Path, device: torch.device | str = "cpu") -> None:
        raw = torch.load(path, map_location="cpu", weights_only=True)
        if raw.get("format") != FORMAT:
            raise ValueError(f"{path} is not a decoded split ({FORMAT})")
        self.device = torch.device(device)
        self.tensors = {k: v.to(self.device) for k, v in raw["tensors"].items()}
        self.n = len(next(iter(self.tensors.values())))
        self.device_resident = self.device.type == "cuda"

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {k: v[index] for k, v in self.tensors.items()}
