"""TFLite: conversion through litert-torch, quantization variants, metadata, the runner."""
import json

import numpy as np
import pytest

from mobile_export.metadata import METADATA_KEY
from mobile_export.tflite import (
    TFLiteRunner,
    embed_tflite_metadata,
    quantize_tflite,
    read_tflite_metadata,
    tflite_op_names,
)
from mobile_export.verify import verify_export

# every test here converts the model to TFLite (tens of seconds per variant): make test only
pytestmark = pytest.mark.slow


def _float_model(exports, name="tflite"):
    return exports(name).path.read_bytes()


def test_fp32_signature_and_parity(exports, frames, reference):
    res = exports("tflite")
    run = TFLiteRunner(res.path)
    assert run.input_shape == (1, 64, 64, 3) and run.input_dtype == np.uint8
    assert run.output_names == ["maps"]
    ref, _ = reference(frames[:2])
    for i in range(2):
        maps = run(frames[i: i + 1])["maps"]
        assert maps.shape == (1, 8, 8, 68)  # NHWC
        assert np.abs(maps.transpose(0, 3, 1, 2) - ref[i: i + 1]).max() <= 1e-4 * np.abs(ref).max()
    with pytest.raises(ValueError, match=r"expected shape \(1, 64, 64, 3\), got \(1, 3, 64, 64\)"):
        run(np.zeros((1, 3, 64, 64), np.uint8))


def test_metadata_embedded_and_replaceable(exports):
    data = _float_model(exports)
    meta = json.loads(read_tflite_metadata(data, METADATA_KEY))
    assert meta["input"]["layout"] == "NHWC" and meta["input"]["dtype"] == "uint8"
    assert meta["skeleton"]["joint_names"][0] == "root" and meta["outputs"][0]["name"] == "maps"
    again = embed_tflite_metadata(data, METADATA_KEY, '{"x": 1}')
    assert read_tflite_metadata(again, METADATA_KEY) == '{"x": 1}'
    assert read_tflite_metadata(again, "absent") is None
    TFLiteRunner(again)  # still a valid model


@pytest.fixture(scope="module")
def quantized(exports, frames, tmp_path_factory):
    """fp16, int8 weight-only and full-integer int8 (calibrated on 8 frames) of the maps model,
    and full-integer int8 of the decoding model; written with the float model's metadata."""
    root = tmp_path_factory.mktemp("quant")
    out = {}
    for src, name, precision, mode in [("tflite", "fp16", "fp16", "weight"), ("tflite", "int8-weight", "int8", "weight"),
                                       ("tflite", "int8-full", "int8", "full"),
                                       ("tflite_decode", "decode-int8-full", "int8", "full")]:
        data = _float_model(exports, src)
        meta = read_tflite_metadata(data, METADATA_KEY)
        q = quantize_tflite(data, precision, mode, calibration=frames)
        path = root / f"{name}.tflite"
        path.write_bytes(embed_tflite_metadata(q, METADATA_KEY, meta))
        out[name] = path
    return out


def test_quantized_sizes_shrink(exports, quantized):
    f32 = exports("tflite").path.stat().st_size
    sizes = {k: p.stat().st_size for k, p in quantized.items()}
    assert sizes["fp16"] < 0.6 * f32
    # full int8 adds per-channel scales, zero points and int32 biases: large on a tiny model
    assert sizes["int8-weight"] < 0.45 * f32 and sizes["int8-full"] < 0.55 * f32


@pytest.mark.parametrize("name,precision,mode,stable", [
    ("fp16", "fp16", None, 0.5), ("int8-weight", "int8", "weight", 0.1),
    # int8 heatmap errors (~0.1-0.3 on this tiny, briefly fitted net) exceed most peak margins:
    # the joint check then covers few or no joints, the map check still applies
    ("int8-full", "int8", "full", 0.0), ("decode-int8-full", "int8", "full", 0.0)])
def test_quantized_within_thresholds(quantized, trained, frames, name, precision, mode, stable):
    model, _cfg, codec = trained
    report = verify_export(quantized[name], model, codec, frames, precision, mode)
    assert report.passed, report.summary()
    assert report.stable_joints >= stable * report.total_joints, report.summary()


def test_full_int8_computes_in_int8_but_decodes_in_float(quantized):
    ops = tflite_op_names(quantized["decode-int8-full"].read_bytes())
    assert "QUANTIZE" in ops and "DEQUANTIZE" in ops and "ARG_MAX" in ops
    run = TFLiteRunner(quantized["decode-int8-full"])
    details = run.interpreter.get_tensor_details()
    conv_out = [d for d in details if d["dtype"] == np.int8 and len(d["shape"]) == 4]
    assert conv_out, "no int8 activations in the full-integer model"
    out = run(np.zeros((1, 64, 64, 3), np.uint8))
    assert out["joints2d"].dtype == np.float32 and out["joints3d"].shape == (1, 17, 3)


def test_full_int8_needs_calibration(exports):
    with pytest.raises(ValueError, match="calibration"):
        quantize_tflite(_float_model(exports), "int8", "full", calibration=None)
    with pytest.raises(ValueError, match="unknown TFLite precision"):
        quantize_tflite(_float_model(exports), "int4")
