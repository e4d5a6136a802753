"""Export metadata: content, sidecar round trip, reading back."""
import json

import pytest

from movnect import skeleton
from movnect.codec import Codec, CodecConfig
from movnect.models import ModelConfig
from mobile_export.metadata import (
    build_metadata,
    read_metadata,
    sidecar_path,
    spec_from_metadata,
    write_sidecar,
)
from mobile_export.wrapper import ExportSpec


def _meta(spec, fmt="tflite"):
    return build_metadata(fmt=fmt, spec=spec, codec=Codec(CodecConfig(input_size=128)),
                          model_config=ModelConfig(width=0.5), precision="fp16", source="a.pt")


def test_content_describes_inputs_outputs_and_units():
    meta = _meta(ExportSpec(layout="nhwc", input_dtype="uint8"))
    assert meta["skeleton"]["joint_names"] == list(skeleton.JOINT_NAMES)
    assert meta["skeleton"]["parents"] == list(skeleton.PARENTS)
    assert meta["input"]["shape"] == [1, 128, 128, 3] and meta["input"]["range"] == [0, 255]
    assert meta["input"]["normalization"]["baked_in"] and len(meta["input"]["normalization"]["std"]) == 3
    (maps,) = meta["outputs"]
    assert maps["shape"] == [1, 16, 16, 68] and "NHWC" in maps["layout"] and "100 mm" in maps["units"]
    assert meta["codec"]["location_scale_mm"] == 100.0 and meta["model"]["config"]["width"] == 0.5
    dec = _meta(ExportSpec(decode=True), "onnx")
    assert [o["name"] for o in dec["outputs"]] == ["joints2d", "joints3d", "confidence"]
    assert "root-relative" in dec["outputs"][1]["units"] and "mm" in dec["outputs"][1]["units"]
    json.dumps(meta)  # JSON-ready
    with pytest.raises(ValueError, match="unknown format 'pb'"):
        _meta(ExportSpec(), "pb")


def test_sidecar_round_trip(tmp_path):
    spec = ExportSpec(layout="nchw", input_dtype="float32", decode=True)
    model = tmp_path / "m.mlpackage"
    model.mkdir()
    path = write_sidecar(model, _meta(spec, "coreml"))
    assert path == sidecar_path(model) == tmp_path / "m.mlpackage.json"
    assert spec_from_metadata(read_metadata(model)) == spec


def test_read_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_metadata(tmp_path / "none.tflite")
    (tmp_path / "x.onnx").write_bytes(b"")
    (tmp_path / "x.onnx.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="not movnect export metadata"):
        read_metadata(tmp_path / "x.onnx")
