"""The Linux MIL checker: single ops against independent torch/numpy references, fp16
rounding, the unsupported-op error, and whole exported programs against PyTorch."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

ct = pytest.importorskip("coremltools")
from coremltools.converters.mil import Builder as mb  # noqa: E402

from mobile_export.mil_check import UnsupportedMILOp, run_program  # noqa: E402
from mobile_export.verify import verify_export  # noqa: E402

RNG = np.random.default_rng(0)


def _run(fn, *shapes, dtype=None):
    specs = [mb.TensorSpec(shape=s) for s in shapes]
    prog = mb.program(input_specs=specs, opset_version=ct.target.iOS16)(fn)
    names = list(prog.functions["main"].inputs)
    xs = [RNG.normal(size=s).astype(np.float32) for s in shapes]
    out = run_program(prog, dict(zip(names, xs)))
    return xs, list(out.values())


@pytest.mark.parametrize("align", [False, True])
def test_upsample_bilinear_matches_torch(align):
    (x,), (y,) = _run(lambda x: mb.upsample_bilinear(x=x, scale_factor_height=2.0, scale_factor_width=2.0,
                                                   align_corners=align), (1, 3, 5, 4))
    ref = F.interpolate(torch.from_numpy(x), scale_factor=2, mode="bilinear", align_corners=align)
    assert np.abs(y - ref.numpy()).max() < 1e-5


@pytest.mark.parametrize("pad_type,pads", [("same", (0, 1, 0, 1)), ("same_lower", (1, 0, 1, 0)), ("valid", (0, 0, 0, 0))])
def test_conv_padding_modes(pad_type, pads):
    w = RNG.normal(size=(4, 2, 3, 3)).astype(np.float32)
    (x,), (y,) = _run(lambda x: mb.conv(x=x, weight=w, strides=[2, 2], pad_type=pad_type), (1, 2, 6, 6))
    # 6 px, kernel 3, stride 2: 3 outputs need 1 pixel of padding (same: after, same_lower: before)
    xp = F.pad(torch.from_numpy(x), (pads[2], pads[3], pads[0], pads[1]))
    ref = F.conv2d(xp, torch.from_numpy(w), stride=2)
    assert y.shape == ref.shape and np.abs(y - ref.numpy()).max() < 1e-5


def test_grouped_custom_pad_conv_with_bias():
    w = RNG.normal(size=(4, 1, 3, 3)).astype(np.float32)
    b = RNG.normal(size=4).astype(np.float32)
    (x,), (y,) = _run(lambda x: mb.conv(x=x, weight=w, bias=b, pad_type="custom", pad=[1, 1, 1, 1], groups=4),
                      (1, 4, 5, 5))
    ref = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), padding=1, groups=4)
    assert np.abs(y - ref.numpy()).max() < 1e-5


def test_slice_reduce_select_log():
    def fn(x):
        s = mb.slice_by_index(x=x, begin=[0, 1, 0], end=[1, 3, 4], end_mask=[False, False, True],
                              squeeze_mask=[True, False, False])
        am = mb.reduce_argmax(x=s, axis=-1, keep_dims=False)
        sm = mb.reduce_sum(x=s, axes=[1], keep_dims=True)
        sel = mb.select(cond=mb.greater_equal(x=s, y=0.0), a=s, b=mb.mul(x=s, y=-2.0))
        lg = mb.log(x=mb.abs(x=s), epsilon=0.5)
        return s, am, sm, sel, lg

    (x,), (s, am, sm, sel, lg) = _run(fn, (2, 3, 4))
    ref = x[0, 1:3, :]
    assert np.array_equal(s, ref) and np.array_equal(am, ref.argmax(-1))
    assert np.allclose(sm, ref.sum(1, keepdims=True), atol=1e-6)
    assert np.allclose(sel, np.where(ref >= 0, ref, -2 * ref)) and np.allclose(lg, np.log(np.abs(ref) + 0.5), atol=1e-6)


def test_fp16_ops_round_like_fp16():
    (x,), (y,) = _run(lambda x: mb.cast(x=mb.mul(x=mb.cast(x=x, dtype="fp16"), y=np.float16(3.0)), dtype="fp32"), (64,))
    expected = (x.astype(np.float16) * np.float16(3.0)).astype(np.float32)
    assert np.array_equal(y, expected) and not np.array_equal(y, x * 3)


def test_unsupported_op_is_named():
    with pytest.raises(UnsupportedMILOp, match=r"op type\(s\) sin;"):
        _run(lambda x: mb.sin(x=x), (3,))


@pytest.mark.slow
def test_exported_programs_match_pytorch(exports, trained, frames):
    model, _cfg, codec = trained
    fp16 = verify_export(exports("coreml").path, model, codec, frames, "fp16")
    assert fp16.passed and fp16.map_rel < 5e-3, fp16.summary()
    int8 = verify_export(exports("coreml_int8_decode").path, model, codec, frames, "int8", "weight")
    # decoded int8 output: no maps to bound heatmap errors, so few joints count as stable;
    # the typical joint still has to land where the Python decoder puts it
    assert int8.passed and int8.joints2d_px_all["median"] < 0.5, int8.summary()
