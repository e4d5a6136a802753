import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from movnect import skeleton as sk
from movnect.codec import Codec, CodecConfig


def random_pose(b: int, gen: torch.Generator, size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    j2 = torch.rand(b, 17, 2, generator=gen) * (size - 1)
    j3 = torch.randn(b, 17, 3, generator=gen) * 400.0
    return j2, j3 - j3[:, :1]


def test_convention_map_cell_centres():
    c = Codec()
    # map cell 0 is centred on crop pixel 3.5 at stride 8; the last cell on 251.5
    assert float(c.map_to_crop(torch.tensor(0.0))) == 3.5
    assert float(c.map_to_crop(torch.tensor(31.0))) == 251.5
    assert float(c.crop_to_map(torch.tensor(3.5))) == 0.0


def test_heatmap_hand_computed():
    c = Codec(CodecConfig(sigma=2.0))
    h = c.encode_heatmaps(torch.tensor([[[3.5 + 8 * 5, 3.5 + 8 * 7]]]))  # joint on cell (x=5, y=7)
    assert h.shape == (1, 1, 32, 32)
    assert float(h[0, 0, 7, 5]) == pytest.approx(1.0)
    assert float(h[0, 0, 7, 6]) == pytest.approx(np.exp(-1 / 8))
    assert float(h[0, 0, 9, 5]) == pytest.approx(np.exp(-4 / 8))


def test_location_maps_layout_and_unit():
    c = Codec(CodecConfig(location_scale_mm=100.0))
    j3 = torch.zeros(1, 17, 3)
    j3[0, 5] = torch.tensor([120.0, -50.0, 300.0])
    loc = c.encode_locations(j3)
    assert loc.shape == (1, 51, 32, 32)
    assert float(loc[0, 5, 3, 3]) == pytest.approx(1.2)        # X of joint 5
    assert float(loc[0, 17 + 5, 0, 0]) == pytest.approx(-0.5)  # Y of joint 5
    assert float(loc[0, 34 + 5, 31, 31]) == pytest.approx(3.0)  # Z of joint 5


def test_round_trip_random_poses_within_tolerance():
    c, g = Codec(), torch.Generator().manual_seed(0)
    j2, j3 = random_pose(256, g)
    d = c.decode(torch.cat(c.encode(j2, j3), 1))
    assert (d.joints2d - j2).abs().max() < 0.5
    assert (d.joints3d - j3).norm(dim=-1).max() < 1.0
    assert d.confidence.min() > 0.7


def test_round_trip_near_crop_border():
    c = Codec()
    g = torch.Generator().manual_seed(1)
    _, j3 = random_pose(64, g)
    edge = torch.tensor([0.0, 0.3, 1.0, 2.7, 252.4, 254.0, 255.0])
    j2 = edge[torch.randint(0, len(edge), (64, 17, 2), generator=g)]
    d = c.decode(torch.cat(c.encode(j2, j3), 1))
    assert (d.joints2d - j2).abs().max() < 0.5
    assert (d.joints3d - j3).norm(dim=-1).max() < 1.0


@settings(max_examples=40, deadline=None)
@given(x=st.floats(0, 255, allow_subnormal=False), y=st.floats(0, 255, allow_subnormal=False), sigma=st.sampled_from([1.0, 1.5, 2.0]),
       size=st.sampled_from([128, 256, 320]))
def test_round_trip_property(x, y, sigma, size):
    c = Codec(CodecConfig(input_size=size, sigma=sigma))
    j2 = torch.full((1, 17, 2), 0.0)
    j2[..., 0], j2[..., 1] = x * (size - 1) / 255, y * (size - 1) / 255
    j3 = torch.zeros(1, 17, 3)
    d = c.decode(torch.cat(c.encode(j2, j3), 1))
    assert (d.joints2d - j2).abs().max() < 0.5


def test_decode_is_root_relative_and_reads_at_peak():
    c = Codec()
    heat = torch.zeros(1, 17, 32, 32)
    heat[:, :, 10, 20] = 1.0  # a single spike: no sub-cell shift
    loc = torch.zeros(1, 51, 32, 32)
    loc[:, :17, 10, 20] = torch.arange(17.0)      # X in location units at the peak only
    loc[:, :17, 0, 0] = 99.0                      # elsewhere: ignored
    d = c.decode_parts(heat, loc)
    np.testing.assert_allclose(d.joints2d[0, 0].numpy(), (20 * 8 + 3.5, 10 * 8 + 3.5))
    np.testing.assert_allclose(d.joints3d[0, :, 0].numpy(), np.arange(17.0) * 100.0)
    assert float(d.joints3d[0, 0].abs().sum()) == 0.0


def test_flip_maps_equals_encoding_the_flipped_pose():
    c, g = Codec(), torch.Generator().manual_seed(2)
    j2, j3 = random_pose(8, g)
    maps = torch.cat(c.encode(j2, j3), 1)
    f2, f3 = j2.clone(), j3.clone()
    f2[..., 0] = 255 - f2[..., 0]
    f3[..., 0] = -f3[..., 0]
    perm = torch.as_tensor(sk.FLIP_PERM)
    flipped = torch.cat(c.encode(f2[:, perm], f3[:, perm]), 1)
    assert (c.flip_maps(maps) - flipped).abs().max() < 1e-5


def test_mask_zeroes_heatmaps():
    c = Codec()
    mask = torch.ones(1, 17)
    mask[0, 3] = 0
    h = c.encode_heatmaps(torch.full((1, 17, 2), 100.0), mask)
    assert float(h[0, 3].abs().max()) == 0.0 and float(h[0, 4].max()) > 0.5


def test_normalize_round_trip_and_values():
    c = Codec()
    img = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    x = c.normalize(img)
    assert x.dtype == torch.float32
    assert float(x[0, 0, 0, 0]) == pytest.approx((int(img[0, 0, 0, 0]) / 255 - 0.485) / 0.229, abs=1e-6)
    np.testing.assert_allclose(c.denormalize(x).numpy(), img.float().numpy(), atol=1e-3)


def test_codec_dict_round_trip():
    c = Codec(CodecConfig(input_size=192, sigma=1.5, location_scale_mm=50.0))
    assert Codec.from_dict(c.to_dict()).config == c.config


def test_errors_name_the_shape():
    c = Codec()
    with pytest.raises(ValueError, match=r"expected maps \(B, 68, h, w\), got \(1, 17, 32, 32\)"):
        c.decode(torch.zeros(1, 17, 32, 32))
    bad = torch.zeros(1, 68, 32, 32)
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        c.decode(bad)
    with pytest.raises(ValueError, match=r"joints2d: expected \(B, J, 2\)"):
        c.encode_heatmaps(torch.zeros(17, 2))
    with pytest.raises(ValueError, match="multiple of stride"):
        CodecConfig(input_size=100)
    with pytest.raises(ValueError, match=r"\(B, 3, S, S\)"):
        c.normalize(torch.zeros(1, 256, 256, 3))
