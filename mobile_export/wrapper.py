"""The module that gets exported: fixed input shape, normalisation baked in, optional decoding.

An app hands the exported model raw RGB pixels as a camera delivers them (values 0..255) and
gets back either the raw maps or, with in-graph decoding, the joints themselves:

  input   `image`  (1, S, S, 3) NHWC (TFLite) or (1, 3, S, S) NCHW (ONNX, CoreML),
                   RGB 0..255, uint8 or float32 (`InputDType`)
  outputs decode=False: `maps` (1, 4J, h, w) NCHW, or (1, h, w, 4J) for an NHWC model
          decode=True:  `joints2d` (1, J, 2) crop pixels, `joints3d` (1, J, 3) root-relative mm,
                        `confidence` (1, J) heatmap peak values

The ImageNet normalisation (x / 255 - mean) / std is folded into one multiply-add per channel.
Decoding is `Codec.decode(maps, check=False)`, written with argmax, elementwise ops and sums so
it lowers to every target format; its results equal the Python decoder's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from movnect.codec import Codec

Layout = Literal["nchw", "nhwc"]
InputDType = Literal["uint8", "float32"]
MAP_OUTPUTS: tuple[str, ...] = ("maps",)
DECODED_OUTPUTS: tuple[str, ...] = ("joints2d", "joints3d", "confidence")
INPUT_NAME = "image"


@dataclass(frozen=True)
class ExportSpec:
    """How the exported graph looks from the outside."""

    layout: Layout = "nchw"
    input_dtype: InputDType = "float32"
    decode: bool = False
    batch: int = 1

    def __post_init__(self) -> None:
        if self.layout not in ("nchw", "nhwc"):
            raise ValueError(f"layout must be 'nchw' or 'nhwc', got {self.layout!r}")
        if self.input_dtype not in ("uint8", "float32"):
            raise ValueError(f"input_dtype must be 'uint8' or 'float32', got {self.input_dtype!r}")
        if self.batch < 1:
            raise ValueError(f"batch must be >= 1, got {self.batch}")

    @property
    def output_names(self) -> tuple[str, ...]:
        return DECODED_OUTPUTS if self.decode else MAP_OUTPUTS

    def input_shape(self, size: int) -> tuple[int, int, int, int]:
        if self.layout == "nhwc":
            return (self.batch, size, size, 3)
        return (self.batch, 3, size, size)

    def output_shapes(self, codec: Codec) -> dict[str, tuple[int, ...]]:
        j, n, b = codec.num_joints, codec.map_size, self.batch
        if self.decode:
            return {"joints2d": (b, j, 2), "joints3d": (b, j, 3), "confidence": (b, j)}
        if self.layout == "nhwc":
            return {"maps": (b, n, n, 4 * j)}
        return {"maps": (b, 4 * j, n, n)}

    def torch_dtype(self) -> torch.dtype:
        return torch.uint8 if self.input_dtype == "uint8" else torch.float32


class ExportWrapper(nn.Module):
    """Raw RGB pixels -> maps or decoded joints, as a dict keyed by output name.

    Args:
        model: a network returning `PoseOutput` (or a tuple whose first item is the maps) on
            normalised (B, 3, S, S) input.
        codec: the model's codec (normalisation constants, decoding).
        spec: layout, input dtype and whether to decode in the graph.
    """

    def __init__(self, model: nn.Module, codec: Codec, spec: ExportSpec) -> None:
        super().__init__()
        self.model = model.eval()
        self.codec = codec
        self.spec = spec
        mean = torch.tensor(codec.config.mean, dtype=torch.float32)
        std = torch.tensor(codec.config.std, dtype=torch.float32)
        # (x / 255 - mean) / std == x * scale + shift
        self.register_buffer("scale", (1.0 / (255.0 * std)).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", (-mean / std).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """image: (B, S, S, 3) for NHWC or (B, 3, S, S) for NCHW, RGB 0..255."""
        x = image.to(torch.float32)
        if self.spec.layout == "nhwc":
            x = x.permute(0, 3, 1, 2)
        x = x * self.scale + self.shift
        out = self.model(x)
        maps = out.maps if hasattr(out, "maps") else out[0]
        if self.spec.decode:
            dec = self.codec.decode(maps, check=False)
            return {"joints2d": dec.joints2d, "joints3d": dec.joints3d, "confidence": dec.confidence}
        if self.spec.layout == "nhwc":
            maps = maps.permute(0, 2, 3, 1)
        return {"maps": maps}

    def example_input(self, seed: int = 0) -> Tensor:
        """A random pixel batch of the exported input shape and dtype."""
        g = torch.Generator().manual_seed(seed)
        shape = self.spec.input_shape(self.codec.config.input_size)
        x = torch.randint(0, 256, shape, generator=g, dtype=torch.int32)
        return x.to(self.spec.torch_dtype())


def to_input(frames: Tensor, spec: ExportSpec) -> Tensor:
    """(B, S, S, 3) uint8 RGB crops -> the exported model's input tensor (layout and dtype)."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames (B, S, S, 3) RGB, got {tuple(frames.shape)}")
    x = frames if spec.layout == "nhwc" else frames.permute(0, 3, 1, 2)
    return x.contiguous().to(spec.torch_dtype())
