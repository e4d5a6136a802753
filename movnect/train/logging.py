"""Run logging: TensorBoard scalars and image panels, plus a metrics.jsonl beside them.

Only the main process logs (`RunLogger(enabled=False)` elsewhere is a no-op). Panels:
  * `heatmap_panel`: input crop | predicted heatmaps (max over joints) | target heatmaps,
    maps upsampled to the crop size, as one (H, 3W, 3) uint8 image;
  * `skeleton_figure`: predicted and ground-truth root-relative 3D skeletons (matplotlib,
    Agg backend, camera axes with y down drawn upward).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from movnect import skeleton


class RunLogger:
    """TensorBoard writer + JSON-lines file in `run_dir` (created lazily on first use)."""

    def __init__(self, run_dir: str | Path, enabled: bool = True, tensorboard: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.tensorboard = tensorboard
        self._writer = None

    @property
    def writer(self):  # noqa: ANN201 - SummaryWriter, imported lazily (slow import)
        if self._writer is None and self.enabled and self.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.run_dir / "tb"))
        return self._writer

    def scalars(self, values: dict[str, float], step: int) -> None:
        """Log {tag: value} at `step` to TensorBoard and one JSON line to metrics.jsonl."""
        if not self.enabled:
            return
        values = {k: float(v) for k, v in values.items()}
        if self.writer is not None:
            for k, v in values.items():
                self.writer.add_scalar(k, v, step)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"step": step, **values}) + "\n")

    def image(self, tag: str, image_hwc: np.ndarray, step: int) -> None:
        if self.enabled and self.writer is not None:
            self.writer.add_image(tag, image_hwc, step, dataformats="HWC")

    def figure(self, tag: str, fig: Any, step: int) -> None:
        """Log a matplotlib Figure (rendered with the Agg canvas)."""
        if self.enabled and self.writer is not None:
            self.writer.add_figure(tag, fig, step, close=False)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _colorize(maps: Tensor, size: int) -> np.ndarray:
    """(J, h, w) heatmaps -> (size, size, 3) uint8, max over joints, 'magma' colours."""
    import matplotlib

    m = maps.float().amax(dim=0).clamp(0, 1)[None, None]
    m = torch.nn.functional.interpolate(m, size=(size, size), mode="nearest")[0, 0].numpy()
    rgb = matplotlib.colormaps["magma"](m)[..., :3]
    return (rgb * 255).astype(np.uint8)


def heatmap_panel(image_0_255: Tensor, pred_heat: Tensor, gt_heat: Tensor) -> np.ndarray:
    """Input | prediction | target.

    Args:
        image_0_255: (3, S, S) RGB 0..255 (codec.denormalize of the network input).
        pred_heat, gt_heat: (J, h, w) heatmaps.
    Returns:
        (S, 3S, 3) uint8 image.
    """
    if image_0_255.ndim != 3 or image_0_255.shape[0] != 3:
        raise ValueError(f"heatmap_panel: expected image (3, S, S), got {tuple(image_0_255.shape)}")
    s = image_0_255.shape[-1]
    img = image_0_255.detach().cpu().clamp(0, 255).permute(1, 2, 0).numpy().astype(np.uint8)
    return np.concatenate([img, _colorize(pred_heat.detach().cpu(), s), _colorize(gt_heat.detach().cpu(), s)], axis=1)


def skeleton_figure(pred3d: np.ndarray, gt3d: np.ndarray | None = None, title: str = "") -> Any:
    """A matplotlib Figure (not registered with pyplot, so nothing to close) of the skeletons.

    Args:
        pred3d: (J, 3) root-relative mm, camera axes; right limbs blue, left limbs orange.
        gt3d: optional (J, 3) ground truth, drawn in grey underneath.
    """
    from matplotlib.figure import Figure

    pred3d = np.asarray(pred3d, dtype=np.float64)
    if pred3d.shape != (skeleton.NUM_JOINTS, 3):
        raise ValueError(f"skeleton_figure: expected ({skeleton.NUM_JOINTS}, 3), got {pred3d.shape}")
    fig = Figure(figsize=(4, 4))
    ax = fig.add_subplot(projection="3d")
    right = set(skeleton.RIGHT_JOINTS)

    def draw(j3: np.ndarray, grey: bool, label: str) -> None:
        # plot x, z (depth) horizontally and -y upward so the person stands upright
        for p, c in skeleton.BONES:
            colour = "0.6" if grey else ("tab:blue" if c in right else "tab:orange")
            ax.plot([j3[p, 0], j3[c, 0]], [j3[p, 2], j3[c, 2]], [-j3[p, 1], -j3[c, 1]],
                    color=colour, lw=2 if not grey else 3, alpha=0.9, label=None)
        ax.scatter([], [], [], color="0.6" if grey else "tab:blue", label=label)

    if gt3d is not None:
        draw(np.asarray(gt3d, dtype=np.float64), True, "ground truth")
    draw(pred3d, False, "prediction")
    lim = 1000.0
    ax.set_xlim(-lim, lim), ax.set_ylim(-lim, lim), ax.set_zlim(-lim, lim)
    ax.set_xlabel("x mm"), ax.set_ylabel("z mm"), ax.set_zlabel("-y mm")
    ax.legend(loc="upper left", fontsize=7)
    if title:
        ax.set_title(title, fontsize=8)
    return fig
