"""CoreML: mlprogram conversion, the spec read back on Linux (names, shapes, metadata), int8."""
import json

import pytest

from mobile_export.coreml import convert_coreml, read_coreml_spec
from mobile_export.mil_check import load_program, op_types
from mobile_export.wrapper import ExportSpec, ExportWrapper


def test_spec_names_shapes_metadata(exports):
    res = exports("coreml")
    spec = read_coreml_spec(res.path)
    assert spec["inputs"] == {"image": {"type": "image", "shape": [1, 3, 64, 64], "color": "RGB"}}
    assert spec["outputs"] == {"maps": {"type": "multiarray", "shape": [1, 68, 8, 8], "dtype": "FLOAT32"}}
    meta = json.loads(spec["metadata"]["movnect"])
    assert meta == json.loads(res.sidecar.read_text())
    assert meta["export"] == {"format": "coreml", "precision": "fp16", "int8_mode": None, "decode": False}
    assert spec["metadata"]["joint_names"].startswith("root,right_hip")
    assert "64x64" in spec["description"]
    assert "cast" in op_types(load_program(res.path))  # fp16 compute: casts around the graph


@pytest.mark.slow
def test_int8_decoded_tensor_input(exports):
    res = exports("coreml_int8_decode")
    spec = read_coreml_spec(res.path)
    assert spec["inputs"]["image"] == {"type": "multiarray", "shape": [1, 3, 64, 64], "dtype": "FLOAT32"}
    assert {k: v["shape"] for k, v in spec["outputs"].items()} == {
        "joints2d": [1, 17, 2], "joints3d": [1, 17, 3], "confidence": [1, 17]}
    assert "constexpr_affine_dequantize" in op_types(load_program(res.path))
    assert res.size_bytes < exports("coreml").size_bytes


def test_rejects_bad_options(trained):
    model, _cfg, codec = trained
    nhwc = ExportWrapper(model, codec, ExportSpec(layout="nhwc"))
    with pytest.raises(ValueError, match="NCHW float32"):
        convert_coreml(nhwc)
    ok = ExportWrapper(model, codec, ExportSpec())
    with pytest.raises(ValueError, match="precision"):
        convert_coreml(ok, precision="int4")
    with pytest.raises(ValueError, match="input kind"):
        convert_coreml(ok, input_kind="video")
    with pytest.raises(FileNotFoundError):
        read_coreml_spec("/nonexistent/model.mlpackage")
