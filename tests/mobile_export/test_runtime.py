"""load_exported: exported .onnx / .tflite files as PoseEstimators, and `movnect predict` on them."""
import json

import cv2
import numpy as np
import pytest

from movnect import cli
from movnect.estimator import TorchEstimator, load_estimator
from mobile_export.runtime import format_of, load_exported


@pytest.mark.slow
@pytest.mark.parametrize("name", ["onnx", "tflite", "onnx_decode", "tflite_decode"])
def test_matches_torch_estimator(exports, trained, frames, name):
    model, _cfg, codec = trained
    est = load_exported(exports(name).path)
    assert est.codec.config == codec.config and est.spec.decode == name.endswith("decode")
    got, ref = est(frames[:3]), TorchEstimator(model, codec)(frames[:3])
    assert got.joints2d.shape == (3, 17, 2) and got.joints3d.dtype == np.float32
    assert np.abs(got.joints2d - ref.joints2d).max() < 1e-2
    assert np.abs(got.joints3d - ref.joints3d).max() < 0.1
    assert np.abs(got.confidence - ref.confidence).max() < 1e-4


def test_load_estimator_dispatches_and_reads_sidecar_when_not_embedded(exports, tmp_path):
    res = exports("onnx")
    assert load_estimator(res.path).note.startswith("exported model: onnx fp32")
    # a copy of the file without its metadata falls back to the sidecar JSON
    import onnx

    m = onnx.load(str(res.path))
    del m.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(m, str(bare))
    with pytest.raises(ValueError, match="no movnect metadata"):
        load_exported(bare)
    (tmp_path / "bare.onnx.json").write_text(res.sidecar.read_text())
    assert load_exported(bare).spec == load_exported(res.path).spec


def test_errors():
    with pytest.raises(FileNotFoundError, match="not found"):
        load_exported("/nonexistent/m.onnx")
    with pytest.raises(ValueError, match="unknown exported model type .pb"):
        format_of("model.pb")


@pytest.mark.slow
def test_predict_cli_on_exported_model(capsys, exports, tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), img)
    out = tmp_path / "pred.json"
    code = cli.main(["predict", str(tmp_path / "a.png"), "--model", str(exports("tflite").path), "--json", str(out)])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out.read_text())
    assert len(doc["frames"]) == 1 and np.array(doc["frames"][0]["joints3d"]).shape == (17, 3)
    assert "exported model: tflite" in stdout


def test_decoder_runs_single_threaded_and_restores():
    import torch

    from mobile_export.runtime import torch_single_thread

    before = torch.get_num_threads()
    with torch_single_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
