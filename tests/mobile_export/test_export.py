"""`movnect export`: options, the orchestration, and the one-line errors a user can cause."""
import json
import sys

import cv2
import pytest

from movnect import cli
from mobile_export import tflite as tflite_module
from mobile_export.export import ExportOptions, export_checkpoint, output_path
from mobile_export.verify import verify_export


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_options_validation():
    with pytest.raises(ValueError, match="unknown export format 'pb'; choose one of coreml, tflite, onnx"):
        ExportOptions("pb")
    with pytest.raises(ValueError, match="onnx export supports precision fp32, not 'fp16'"):
        ExportOptions("onnx", precision="fp16")
    with pytest.raises(ValueError, match="full-integer int8 is a TFLite option"):
        ExportOptions("coreml", precision="int8", int8_mode="full")
    assert ExportOptions("coreml").resolved_precision == "fp16" and ExportOptions("tflite").resolved_precision == "fp32"
    assert ExportOptions("tflite", precision="int8").resolved_int8_mode == "weight"
    assert ExportOptions("tflite").spec().layout == "nhwc" and ExportOptions("onnx").spec().input_dtype == "uint8"


def test_output_path_suffixes(tmp_path):
    assert output_path(tmp_path / "m", "coreml").name == "m.mlpackage"
    assert output_path(tmp_path / "m.tflite", "tflite").name == "m.tflite"
    assert output_path(tmp_path / "m.w1.0", "onnx").name == "m.w1.0.onnx"
    with pytest.raises(ValueError, match="onnx models are written as .onnx, got m.tflite"):
        output_path(tmp_path / "m.tflite", "onnx")


def test_cli_errors_are_one_line(capsys, monkeypatch, ckpt, tmp_path):
    code, _, err = run(capsys, "export", "--checkpoint", tmp_path / "none.pt", "--format", "onnx", "--out", tmp_path / "m")
    assert code == 2 and "checkpoint not found" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "export", "--checkpoint", ckpt, "--format", "pb", "--out", tmp_path / "m")
    assert code == 2 and "unknown export format 'pb'" in err
    import movnect.estimator

    # an installation without the embedded model (e.g. a slimmed wheel)
    monkeypatch.setattr(movnect.estimator, "DEFAULT_MODEL_FILE", tmp_path / "absent" / "default_student.pt")
    code, _, err = run(capsys, "export", "--checkpoint", "default", "--format", "onnx", "--out", tmp_path / "m")
    assert code == 2 and "no default model is embedded" in err
    monkeypatch.undo()
    code, _, err = run(capsys, "export", "--checkpoint", ckpt, "--format", "tflite", "--out", tmp_path / "m",
                       "--precision", "int8", "--int8-mode", "full")
    assert code == 2 and "--calibration" in err


@pytest.mark.parametrize("fmt,module,dist", [("tflite", "litert_torch", "litert-torch"),
                                             ("coreml", "coremltools", "coremltools"),
                                             ("onnx", "onnxscript", "onnxscript")])
def test_missing_toolchain_names_what_to_install(capsys, monkeypatch, ckpt, tmp_path, fmt, module, dist):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    code, _, err = run(capsys, "export", "--checkpoint", ckpt, "--format", fmt, "--out", tmp_path / "m")
    assert code == 2 and f"'{dist}'" in err and "pip install" in err and "[export]" in err


@pytest.mark.slow
def test_cli_onnx_decoded_other_size_verified(capsys, ckpt, tmp_path):
    code, out, err = run(capsys, "export", "--checkpoint", ckpt, "--format", "onnx", "--out", tmp_path / "m.onnx",
                         "--decode", "--input-size", 96, "--verify", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["verify"]["passed"] and doc["verify"]["frames"] == 16 and doc["verify"]["decode"]
    meta = json.loads((tmp_path / "m.onnx.json").read_text())
    assert meta["input"]["shape"] == [1, 3, 96, 96] and meta["codec"]["input_size"] == 96
    assert meta["source"] == "tiny.pt" and doc["bytes"] == (tmp_path / "m.onnx").stat().st_size


@pytest.mark.slow
def test_full_int8_from_an_image_folder(monkeypatch, exports, trained, ckpt, frames, tmp_path):
    """The checkpoint -> calibration frames -> quantize -> metadata path, with the (slow, already
    tested) litert-torch conversion replaced by the session's float model."""
    folder = tmp_path / "calib"
    folder.mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{i}.png"), f[..., ::-1])
    float_model = exports("tflite").path.read_bytes()
    monkeypatch.setattr(tflite_module, "convert_tflite", lambda wrapper, progress=False: float_model)
    opts = ExportOptions("tflite", precision="int8", int8_mode="full")
    result, report = export_checkpoint(ckpt, tmp_path / "q.tflite", opts, calibration=folder, verify=True)
    assert result.meta["export"] == {"format": "tflite", "precision": "int8", "int8_mode": "full", "decode": False}
    assert report.passed and report.precision == "int8-full", report.summary()
    model, _cfg, codec = trained
    assert verify_export(result.path, model, codec, frames, "int8", "full").passed
