"""ExportWrapper: baked-in normalisation, layouts, input dtypes, in-graph decoding."""
import numpy as np
import pytest
import torch
from torch import nn

from movnect.codec import Codec, CodecConfig
from movnect.models import PoseOutput
from mobile_export.wrapper import ExportSpec, ExportWrapper, to_input


class Recorder(nn.Module):
    """Returns its input as 'maps' (4J = 3 channels would not decode; only for normalisation)."""

    def forward(self, x):
        self.seen = x
        return PoseOutput(x, x, x)


def test_normalisation_equals_codec_normalize():
    codec = Codec(CodecConfig(input_size=32))
    rec = Recorder()
    w = ExportWrapper(rec, codec, ExportSpec(layout="nchw", input_dtype="uint8"))
    x = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    w(x)
    assert torch.allclose(rec.seen, codec.normalize(x), atol=1e-5)
    # black and white pixels map to -mean/std and (1-mean)/std per channel
    w(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    mean, std = np.array(codec.config.mean), np.array(codec.config.std)
    assert np.allclose(rec.seen[0, :, 0, 0].numpy(), -mean / std, atol=1e-6)


def test_layouts_and_dtypes_agree(trained):
    model, _cfg, codec = trained
    crops = torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8)
    outs = {}
    for layout in ("nchw", "nhwc"):
        for dtype in ("uint8", "float32"):
            spec = ExportSpec(layout=layout, input_dtype=dtype)
            w = ExportWrapper(model, codec, spec)
            with torch.no_grad():
                maps = w(to_input(crops, spec))["maps"]
            assert maps.shape[0] == 2 and tuple(maps.shape[1:]) == spec.output_shapes(codec)["maps"][1:]
            outs[layout, dtype] = maps if layout == "nchw" else maps.permute(0, 3, 1, 2)
    ref = outs["nchw", "float32"]
    for v in outs.values():
        assert torch.allclose(v, ref, atol=1e-5)


def test_in_graph_decode_equals_python_decoder(trained):
    model, _cfg, codec = trained
    crops = torch.randint(0, 256, (3, 64, 64, 3), dtype=torch.uint8)
    spec = ExportSpec(layout="nhwc", input_dtype="uint8", decode=True)
    with torch.no_grad():
        out = ExportWrapper(model, codec, spec)(crops)
        maps = model(codec.normalize(crops.permute(0, 3, 1, 2))).maps
    dec = codec.decode(maps)
    assert set(out) == {"joints2d", "joints3d", "confidence"}
    assert torch.allclose(out["joints2d"], dec.joints2d, atol=1e-4)
    assert torch.allclose(out["joints3d"], dec.joints3d, atol=1e-3)
    assert torch.allclose(out["confidence"], dec.confidence, atol=1e-6)
    assert torch.all(out["joints3d"][:, 0] == 0)  # root-relative


def test_spec_shapes_and_validation():
    codec = Codec(CodecConfig(input_size=64))
    assert ExportSpec(layout="nhwc").input_shape(64) == (1, 64, 64, 3)
    assert ExportSpec().input_shape(64) == (1, 3, 64, 64)
    assert ExportSpec(layout="nhwc").output_shapes(codec) == {"maps": (1, 8, 8, 68)}
    assert ExportSpec(decode=True).output_shapes(codec)["joints3d"] == (1, 17, 3)
    with pytest.raises(ValueError, match="layout"):
        ExportSpec(layout="chw")
    with pytest.raises(ValueError, match="input_dtype"):
        ExportSpec(input_dtype="int16")
    with pytest.raises(ValueError, match=r"\(B, S, S, 3\).*\(2, 3, 64, 64\)"):
        to_input(torch.zeros(2, 3, 64, 64), ExportSpec())


def test_example_input_has_export_shape_and_dtype():
    codec = Codec(CodecConfig(input_size=32))
    w = ExportWrapper(Recorder(), codec, ExportSpec(layout="nhwc", input_dtype="uint8"))
    x = w.example_input()
    assert x.shape == (1, 32, 32, 3) and x.dtype == torch.uint8
