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


# ---- movnect eval on exported models: the one inference path, the one flip test -------------

@pytest.fixture(scope="module")
def tiny_h5(tmp_path_factory):
    """The data package's tiny synthetic release, prepared (S1, S9; 256 px crops, 2D and 3D labels)."""
    from tests.movnect.data.fixtures import build_tiny

    return build_tiny(tmp_path_factory.mktemp("tiny"))[1]


def test_eval_scores_exported_models_like_their_checkpoint_with_and_without_flip_test(exports, ckpt, tiny_h5):
    from movnect.evaluate import Protocol, evaluate

    figures = ("mpjpe", "pa_mpjpe", "n_mpjpe", "joints2d_px")
    plain, flip = Protocol(("S9",), 5), Protocol(("S9",), 5, flip_test=True)
    ref = {p.flip_test: evaluate(tiny_h5, p, checkpoint=ckpt)["overall"] for p in (plain, flip)}
    # the flip test changes the checkpoint's figures (it is not a no-op on this net)
    assert abs(ref[True]["mpjpe"] - ref[False]["mpjpe"]) > 0.1
    for name in ("onnx", "tflite"):
        path = exports(name).path
        for p in (plain, flip):
            res = evaluate(tiny_h5, p, checkpoint=path)
            assert res["protocol"]["model_note"].startswith(f"exported model: {name} fp32")
            for k in figures:  # fp32 runtimes: the same figures as PyTorch to well under a tenth of a mm / px
                assert res["overall"][k] == pytest.approx(ref[p.flip_test][k], abs=0.05), (name, p.flip_test, k)
            if p.flip_test:  # and the flip test moves them by the same amount
                delta = res["overall"]["mpjpe"] - evaluate(tiny_h5, plain, checkpoint=path)["overall"]["mpjpe"]
                assert delta == pytest.approx(ref[True]["mpjpe"] - ref[False]["mpjpe"], abs=0.05)


def test_flip_test_of_an_exported_model_is_the_checkpoints_flip_test_per_crop(exports, trained, frames):
    from movnect.estimator import TorchEstimator, flip_test

    model, _cfg, codec = trained
    ref = flip_test(TorchEstimator(model, codec))
    for name in ("onnx", "tflite"):
        est = flip_test(load_estimator(exports(name).path))
        np.testing.assert_allclose(est.maps(frames).numpy(), ref.maps(frames).numpy(), atol=1e-4)
        got, want = est(frames), ref(frames)
        np.testing.assert_allclose(got.joints3d, want.joints3d, atol=0.05)
        np.testing.assert_allclose(got.joints2d, want.joints2d, atol=1e-2)


def test_flip_test_needs_maps_and_bad_model_files_are_one_line_errors(exports, tiny_h5, tmp_path, capsys):
    from movnect.estimator import flip_test

    decoding = exports("tflite_decode").path
    with pytest.raises(ValueError, match="the flip test averages the network's maps"):
        flip_test(load_estimator(decoding))
    base = ["eval", "--data", str(tiny_h5), "--subjects", "S9", "--frame-step", "5", "--checkpoint"]
    bad = {}
    for suffix in (".tflite", ".onnx", ".pt"):
        bad[suffix] = tmp_path / f"broken{suffix}"
        bad[suffix].write_bytes(b"not a model at all\n" * 64)
    cases = [([str(decoding), "--flip-test"], "the flip test averages the network's maps"),
             ([str(bad[".tflite"])], "broken.tflite is not a readable tflite model"),
             ([str(bad[".onnx"])], "broken.onnx is not a readable onnx model"),
             ([str(bad[".pt"])], "broken.pt is unreadable"),
             ([str(tmp_path / "absent.tflite")], "not found"),
             ([str(exports("onnx").path), "--device", "cuda"], "applies to PyTorch checkpoints only")]
    for args, message in cases:
        assert cli.main(base + args) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("movnect: error:") and "\n" not in err and message in err, err


def test_cli_eval_of_an_exported_model_reports_it(exports, tiny_h5, tmp_path, capsys):
    path = exports("tflite").path
    assert cli.main(["eval", "--model", str(path), "--data", str(tiny_h5), "--subjects", "S9", "--frame-step", "5",
                     "--flip-test", "--max-rows", "6", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("6 frames of S9") and "flip test" in out and " px" in out
    res = json.loads((tmp_path / "r" / "eval.json").read_text())
    assert res["protocol"]["model"] == path.name and res["protocol"]["max_rows"] == 6
    assert "capped at 6 of 16 rows" in res["protocol"]["rows"] and not res["papers"]["comparable"]
    assert f"- model: {path.name} (exported model: tflite fp32)" in (tmp_path / "r" / "eval.md").read_text()
