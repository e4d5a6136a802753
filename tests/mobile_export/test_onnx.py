"""ONNX: dynamo export, opset 18, embedded metadata, ONNX Runtime parity, in-graph decoding."""
import json

import numpy as np
import onnx
import pytest

from mobile_export.onnx import OPSET, OnnxRunner


def test_graph_io_opset_and_metadata(exports):
    res = exports("onnx")
    model = onnx.load(str(res.path))
    assert [i.name for i in model.graph.input] == ["image"]
    assert [o.name for o in model.graph.output] == ["maps"]
    assert any(o.domain in ("", "ai.onnx") and o.version == OPSET for o in model.opset_import)
    assert not list(res.path.parent.glob("*.data"))  # weights inside the file
    props = {p.key: p.value for p in model.metadata_props}
    meta = json.loads(props["movnect"])
    assert meta == json.loads(res.sidecar.read_text())
    assert props["joint_names"].split(",")[:2] == ["root", "right_hip"]
    assert meta["input"]["shape"] == [1, 3, 64, 64] and meta["input"]["dtype"] == "uint8"


def test_runtime_parity(exports, frames, reference):
    run = OnnxRunner(exports("onnx").path)
    assert run.input_shape == (1, 3, 64, 64) and run.input_dtype == np.uint8
    ref, _ = reference(frames)
    for i in range(len(frames)):
        maps = run(frames[i: i + 1].transpose(0, 3, 1, 2))["maps"]
        assert np.abs(maps - ref[i: i + 1]).max() <= 1e-5 * np.abs(ref).max()
    with pytest.raises(ValueError, match=r"expected shape \(1, 3, 64, 64\)"):
        run(frames[:1])


@pytest.mark.slow
def test_in_graph_decoding_equals_python_decoder(exports, frames, reference):
    run = OnnxRunner(exports("onnx_decode").path)
    assert sorted(run.output_names) == ["confidence", "joints2d", "joints3d"]
    _, dec = reference(frames)
    for i in range(len(frames)):
        out = run(frames[i: i + 1].transpose(0, 3, 1, 2))
        assert np.abs(out["joints2d"] - dec.joints2d[i: i + 1].numpy()).max() < 1e-3
        assert np.abs(out["joints3d"] - dec.joints3d[i: i + 1].numpy()).max() < 1e-2
        assert np.abs(out["confidence"] - dec.confidence[i: i + 1].numpy()).max() < 1e-5
