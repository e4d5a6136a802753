"""verify_export: thresholds, stable-joint logic and failure reports."""
import numpy as np
import pytest
import torch

from mobile_export.verify import THRESHOLDS, peak_margin, thresholds_for, verify_export


def test_peak_margin_hand_computed():
    heat = np.zeros((1, 2, 3, 3), np.float32)
    heat[0, 0, 1, 1], heat[0, 0, 0, 0] = 1.0, 0.7   # margin 0.3
    heat[0, 1, 2, 2], heat[0, 1, 2, 1] = 0.5, 0.5   # a tie: margin 0
    assert np.allclose(peak_margin(heat), [[0.3, 0.0]])


def test_thresholds_grow_with_lossier_precision():
    keys = ["fp32", "fp16", "int8-weight", "int8-full"]
    for a, b in zip(keys, keys[1:]):
        assert THRESHOLDS[a].map_rel < THRESHOLDS[b].map_rel
        assert THRESHOLDS[a].joints2d_px < THRESHOLDS[b].joints2d_px
    assert thresholds_for("int8", "full") == THRESHOLDS["int8-full"]
    assert thresholds_for("int8") == THRESHOLDS["int8-weight"]
    with pytest.raises(ValueError, match="no thresholds"):
        thresholds_for("int4")


def test_fp32_export_passes_with_every_joint_checked(exports, trained, frames):
    model, _cfg, codec = trained
    report = verify_export(exports("onnx").path, model, codec, frames, "fp32")
    assert report.passed and report.map_rel < 1e-5, report.summary()
    assert report.total_joints == 8 * 17 and report.stable_joints >= 0.95 * report.total_joints
    assert report.joints2d_px["max"] < 1e-3 and report.to_dict()["passed"] is True
    assert "PASS" in report.summary()


def test_a_wrong_model_fails_with_reasons(exports, trained, frames):
    model, _cfg, codec = trained
    other = type(model)(num_joints=17, width=0.25).eval()
    other.load_state_dict(model.state_dict())
    with torch.no_grad():
        other.head[-1].bias += 0.05  # shifts every map: a broken export would look like this
    report = verify_export(exports("onnx").path, other, codec, frames, "fp32")
    assert not report.passed
    assert any("relative map difference" in f for f in report.failures)
    assert "FAIL" in report.summary()


def test_rejects_wrong_frames(exports, trained):
    model, _cfg, codec = trained
    with pytest.raises(ValueError, match=r"uint8 frames \(N, 64, 64, 3\)"):
        verify_export(exports("onnx").path, model, codec, np.zeros((2, 32, 32, 3), np.uint8), "fp32")
