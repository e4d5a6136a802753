"""Target codec: joints -> heatmaps + location maps (encode) beside maps -> joints (decode).

One `Codec` holds every parameter both directions share: input size, output stride, Gaussian
sigma, the location-map unit and the input image normalisation. It is stored in checkpoints and
exported metadata (`Codec.to_dict`), so a model is always decoded the way it was trained.

Conventions:
  * Network output: one tensor `maps` (B, 4J, h, w) = [H (J), X (J), Y (J), Z (J)] along
    channels, h = w = input_size / stride.
  * Map cell (i, j) is centred on crop pixel (stride * j + (stride - 1) / 2, stride * i + ...):
    map = (crop + 0.5) / stride - 0.5, with crop pixel centres at integers (camera.py).
  * Heatmap: exp(-d^2 / (2 sigma^2)), d in map cells, peak 1 at the joint.
  * Location maps (VNect): the joint's root-relative 3D coordinate, in units of
    `location_scale_mm` millimetres, written at every cell; training masks them with the
    ground-truth heatmap so only the joint's neighbourhood is supervised.
  * Decoding: integer argmax, sub-cell refinement from the log-heatmap (exact for a Gaussian of
    the codec's sigma), confidence = peak value, 3D read bilinearly from the location maps at
    the refined peak, then made exactly root-relative.
The decoder uses only argmax, elementwise arithmetic and sums, so it exports to ONNX, TFLite
and CoreML graphs unchanged (mobile_export's `--decode`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from movnect import skeleton

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class CodecConfig:
    input_size: int = 256             # square crop side, pixels
    stride: int = 8                   # output stride: map side = input_size / stride
    sigma: float = 1.0                # Gaussian sigma in map cells
    location_scale_mm: float = 100.0  # one location-map unit in mm (VNect used decimetres)
    num_joints: int = skeleton.NUM_JOINTS
    mean: tuple[float, float, float] = IMAGENET_MEAN  # RGB, on pixels scaled to [0, 1]
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self) -> None:
        if self.input_size % self.stride:
            raise ValueError(f"input_size {self.input_size} must be a multiple of stride {self.stride}")
        if self.sigma <= 0 or self.location_scale_mm <= 0:
            raise ValueError("sigma and location_scale_mm must be positive")

    @property
    def map_size(self) -> int:
        return self.input_size // self.stride


class Decoded(NamedTuple):
    joints2d: Tensor    # (B, J, 2) crop pixels
    confidence: Tensor  # (B, J) heatmap peak value
    joints3d: Tensor    # (B, J, 3) root-relative, mm, camera axes


class Codec:
    """Encode/decode between joints and maps; see the module docstring for conventions."""

    def __init__(self, config: CodecConfig | None = None) -> None:
        self.config = config or CodecConfig()

    # ---- bookkeeping ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = asdict(self.config)
        d["mean"], d["std"] = list(d["mean"]), list(d["std"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Codec":
        d = dict(d)
        d["mean"], d["std"] = tuple(d["mean"]), tuple(d["std"])
        return cls(CodecConfig(**d))

    @property
    def num_joints(self) -> int:
        return self.config.num_joints

    @property
    def map_size(self) -> int:
        return self.config.map_size

    def crop_to_map(self, xy: Tensor) -> Tensor:
        """Crop pixels -> map cells (any shape)."""
        return (xy + 0.5) / self.config.stride - 0.5

    def map_to_crop(self, xy: Tensor) -> Tensor:
        """Map cells -> crop pixels (any shape)."""
        return (xy + 0.5) * self.config.stride - 0.5

    # ---- images --------------------------------------------------------------------------
    def normalize(self, images: Tensor) -> Tensor:
        """Raw RGB pixels -> network input.

        Args:
            images: (B, 3, S, S) RGB, values 0..255 (uint8 or float).
        Returns:
            (B, 3, S, S) float32, (x / 255 - mean) / std.
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"normalize: expected (B, 3, S, S) RGB, got {tuple(images.shape)}")
        mean = torch.tensor(self.config.mean, dtype=torch.float32, device=images.device)
        std = torch.tensor(self.config.std, dtype=torch.float32, device=images.device)
        x = images.to(torch.float32) / 255.0
        return (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)

    def denormalize(self, inputs: Tensor) -> Tensor:
        """Inverse of `normalize`: (B, 3, S, S) float -> (B, 3, S, S) float in 0..255."""
        mean = torch.tensor(self.config.mean, dtype=torch.float32, device=inputs.device)
        std = torch.tensor(self.config.std, dtype=torch.float32, device=inputs.device)
        return (inputs * std.view(1, 3, 1, 1) + mean.view(1, 3, 1, 1)) * 255.0

    # ---- encode --------------------------------------------------------------------------
    def encode_heatmaps(self, joints2d: Tensor, mask: Tensor | None = None) -> Tensor:
        """Gaussian heatmaps.

        Args:
            joints2d: (B, J, 2) crop pixels.
            mask: optional (B, J); joints with mask 0 get an all-zero heatmap.
        Returns:
            (B, J, h, w) float32 in [0, 1].
        """
        self._check_joints(joints2d, 2, "joints2d")
        n = self.map_size
        c = self.crop_to_map(joints2d.to(torch.float32))
        grid = torch.arange(n, dtype=torch.float32, device=joints2d.device)
        dx2 = (grid.view(1, 1, 1, n) - c[..., 0, None, None]) ** 2
        dy2 = (grid.view(1, 1, n, 1) - c[..., 1, None, None]) ** 2
        heat = torch.exp(-(dx2 + dy2) / (2.0 * self.config.sigma**2))
        if mask is not None:
            heat = heat * mask.to(heat.dtype).view(*mask.shape, 1, 1)
        return heat

    def encode_locations(self, joints3d: Tensor) -> Tensor:
        """Location maps.

        Args:
            joints3d: (B, J, 3) root-relative joints, mm, camera axes.
        Returns:
            (B, 3J, h, w) float32: X maps of all joints, then Y, then Z, in location units.
        """
        self._check_joints(joints3d, 3, "joints3d")
        n = self.map_size
        units = joints3d.to(torch.float32) / self.config.location_scale_mm  # (B, J, 3)
        per_axis = units.permute(0, 2, 1).reshape(units.shape[0], -1)       # (B, 3J)
        return per_axis[:, :, None, None].expand(-1, -1, n, n).contiguous()

    def encode(self, joints2d: Tensor, joints3d: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(B, J, 2) crop px + (B, J, 3) root-relative mm -> heatmaps (B, J, h, w), location maps (B, 3J, h, w)."""
        return self.encode_heatmaps(joints2d, mask), self.encode_locations(joints3d)

    # ---- decode --------------------------------------------------------------------------
    def split(self, maps: Tensor) -> tuple[Tensor, Tensor]:
        """(B, 4J, h, w) -> heatmaps (B, J, h, w), location maps (B, 3J, h, w)."""
        j = self.num_joints
        if maps.ndim != 4 or maps.shape[1] != 4 * j:
            raise ValueError(f"expected maps (B, {4 * j}, h, w), got {tuple(maps.shape)}")
        return maps[:, :j], maps[:, j:]

    def decode(self, maps: Tensor, check: bool = True) -> Decoded:
        """Network maps -> joints.

        Args:
            maps: (B, 4J, h, w) network output.
            check: raise ValueError on non-finite maps (turned off inside exported graphs).
        Returns:
            Decoded(joints2d (B, J, 2) crop px, confidence (B, J), joints3d (B, J, 3) mm root-relative).
        """
        heat, loc = self.split(maps)
        if check and not bool(torch.isfinite(maps).all()):
            raise ValueError("decode: maps contain NaN or infinite values")
        return self.decode_parts(heat, loc)

    def decode_parts(self, heat: Tensor, loc: Tensor) -> Decoded:
        """Like `decode` but with heatmaps (B, J, h, w) and location maps (B, 3J, h, w) apart."""
        b, j, h, w = heat.shape
        heat = heat.to(torch.float32)
        flat_idx = torch.argmax(heat.reshape(b, j, h * w), dim=-1).to(torch.float32)
        py = torch.floor(flat_idx / w)
        px = flat_idx - py * w
        conf = _sample(heat, px, py)
        sx = px + self._refine(heat, px, py, 1.0, 0.0, w)
        sy = py + self._refine(heat, px, py, 0.0, 1.0, h)
        xy_map = torch.stack([sx, sy], dim=-1)
        loc = loc.to(torch.float32)
        cx, cy = sx.clamp(0, w - 1), sy.clamp(0, h - 1)
        xyz = torch.stack(
            [_sample(loc[:, a * j : (a + 1) * j], cx, cy) for a in range(3)], dim=-1
        ) * self.config.location_scale_mm
        xyz = xyz - xyz[:, skeleton.ROOT : skeleton.ROOT + 1]
        return Decoded(self.map_to_crop(xy_map), conf, xyz)

    def _refine(self, heat: Tensor, px: Tensor, py: Tensor, ux: float, uy: float, size: int) -> Tensor:
        """Sub-cell offset of the peak along one axis from log-heatmap differences.

        For a Gaussian of the codec's sigma s, log H is a parabola with curvature -1/s^2, so
        the offset is s^2 times the (central or one-sided) log difference; exact for encoded
        targets, clamped to half a cell (a cell at the border may reach one cell outward).
        """
        s2 = self.config.sigma**2
        pos = px if ux else py
        eps = 1e-8
        l0 = torch.log(_sample(heat, px, py).clamp_min(eps))
        lp = torch.log(_sample(heat, (px + ux).clamp(max=heat.shape[-1] - 1),
                               (py + uy).clamp(max=heat.shape[-2] - 1)).clamp_min(eps))
        lm = torch.log(_sample(heat, (px - ux).clamp(min=0), (py - uy).clamp(min=0)).clamp_min(eps))
        at_lo, at_hi = pos <= 0, pos >= size - 1
        central = 0.5 * s2 * (lp - lm)
        right_only = 0.5 + s2 * (lp - l0)
        left_only = -0.5 + s2 * (l0 - lm)
        off = torch.where(at_lo, right_only, torch.where(at_hi, left_only, central))
        lo = torch.where(at_lo, torch.full_like(off, -1.0), torch.full_like(off, -0.5))
        hi = torch.where(at_hi, torch.full_like(off, 1.0), torch.full_like(off, 0.5))
        if size == 1:
            return torch.zeros_like(off)
        return torch.maximum(torch.minimum(off, hi), lo)

    # ---- flip ----------------------------------------------------------------------------
    def flip_maps(self, maps: Tensor) -> Tensor:
        """Maps of the horizontally mirrored image: flip width, swap left/right, negate X.

        (B, 4J, h, w) -> (B, 4J, h, w). With stride-aligned crops this is exact for encoded
        targets: encode(flip(joints)) == flip_maps(encode(joints)).
        """
        heat, loc = self.split(maps)
        j = self.num_joints
        perm = torch.as_tensor(skeleton.FLIP_PERM, device=maps.device)
        heat = heat.flip(-1)[:, perm]
        x, y, z = (loc[:, a * j : (a + 1) * j].flip(-1)[:, perm] for a in range(3))
        return torch.cat([heat, -x, y, z], dim=1)

    @staticmethod
    def _check_joints(joints: Tensor, dim: int, name: str) -> None:
        if joints.ndim != 3 or joints.shape[-1] != dim:
            raise ValueError(f"{name}: expected (B, J, {dim}), got {tuple(joints.shape)}")


def _sample(maps: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """Bilinear sample of (B, J, h, w) maps at map coordinates x, y (B, J) -> (B, J).

    Tent weights max(0, 1 - |grid - x|) make integer positions exact look-ups; written with
    broadcasting and sums only so it exports everywhere. Positions must lie in [0, size-1].
    """
    h, w = maps.shape[-2:]
    gx = torch.arange(w, dtype=maps.dtype, device=maps.device)
    gy = torch.arange(h, dtype=maps.dtype, device=maps.device)
    wx = torch.relu(1.0 - torch.abs(gx - x[..., None]))  # (B, J, w)
    wy = torch.relu(1.0 - torch.abs(gy - y[..., None]))  # (B, J, h)
    return ((maps * wy[..., :, None]).sum(-2) * wx).sum(-1)
