"""Validation during training: decoded 3D and 2D errors over a fixed subset, all processes.

Each process scores a disjoint shard (rows rank, rank + world, ...) and the sums are
all-reduced, so the figures are exactly those of a single process over the whole subset.
Figures: val/mpjpe (mm, root-relative, 3D-labelled samples), val/pa_mpjpe (mm),
val/err2d_px (mean 2D error of labelled joints, crop pixels), val/samples.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset

from movnect import metrics
from movnect.codec import Codec
from movnect.models import PoseOutput
from movnect.train.distributed import DistEnv, all_reduce_sum


def subset_indices(n: int, max_samples: int) -> np.ndarray:
    """`max_samples` evenly spaced indices of range(n) (all of them if max_samples is 0)."""
    if max_samples <= 0 or max_samples >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_samples).round().astype(np.int64))


def validation_loader(dataset: Dataset, max_samples: int, batch_size: int, workers: int,
                      env: DistEnv) -> DataLoader:
    """This process's shard of the evenly spaced validation subset, in a fixed order."""
    idx = subset_indices(len(dataset), max_samples)[env.rank :: env.world_size]  # type: ignore[arg-type]
    return DataLoader(Subset(dataset, idx.tolist()), batch_size=batch_size, shuffle=False,
                      num_workers=workers, generator=torch.Generator().manual_seed(0))


@dataclass
class PanelData:
    """First samples of the first validation batch, for the TensorBoard panels."""

    images: Tensor      # (P, 3, S, S) network input (normalised)
    pred_heat: Tensor   # (P, J, h, w)
    gt_heat: Tensor     # (P, J, h, w)
    pred3d: np.ndarray  # (P, J, 3) mm
    gt3d: np.ndarray    # (P, J, 3) mm


@torch.no_grad()
def validate(forward: Callable[[Tensor], PoseOutput], codec: Codec, loader: DataLoader,
             env: DistEnv, panels: int = 0) -> tuple[dict[str, float], PanelData | None]:
    """Run `forward` over `loader`; returns (figures summed over processes, panel data)."""
    sums = torch.zeros(6, dtype=torch.float64)  # mpjpe, pa, n3d, err2d, n2d, samples
    panel = None
    for batch in loader:
        images = batch["image"].to(env.device, non_blocking=True)
        out = forward(images)
        dec = codec.decode(out.maps.float().cpu(), check=False)
        has3d = batch["has3d"].bool()
        if has3d.any():
            pred = dec.joints3d[has3d].double().numpy()
            gt = batch["joints3d"][has3d].double().numpy()
            sums[0] += float(metrics.mpjpe_errors(pred, gt).mean(1).sum())
            sums[1] += float(metrics.pa_mpjpe_errors(pred, gt).mean(1).sum())
            sums[2] += int(has3d.sum())
        mask = batch["mask2d"].double()
        err2d = torch.linalg.norm(dec.joints2d.double() - batch["joints2d"].double(), dim=-1)
        sums[3] += float((err2d * mask).sum())
        sums[4] += float(mask.sum())
        sums[5] += len(images)
        if panel is None and panels > 0:
            heat, _ = codec.split(out.maps.float().cpu())
            panel = PanelData(images[:panels].cpu(), heat[:panels], batch["heatmaps"][:panels],
                              dec.joints3d[:panels].numpy(), batch["joints3d"][:panels].numpy())
    sums = all_reduce_sum(sums.to(env.device if env.device.type == "cuda" else "cpu"), env).cpu()
    figures = {"val/samples": float(sums[5])}
    if sums[2] > 0:
        figures["val/mpjpe"] = float(sums[0] / sums[2])
        figures["val/pa_mpjpe"] = float(sums[1] / sums[2])
    if sums[4] > 0:
        figures["val/err2d_px"] = float(sums[3] / sums[4])
    return figures, panel
