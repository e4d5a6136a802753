"""The CLI's foundation commands (info, predict) and its one-line error contract."""
import json

import cv2
import numpy as np
import pytest
import torch

from movnect import cli
from movnect.checkpoint import save_checkpoint
from movnect.codec import Codec, CodecConfig
from movnect.models import ModelConfig, build_model


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    cfg = ModelConfig(name="movnect", width=0.25)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, build_model(cfg), cfg, Codec(CodecConfig(input_size=128)))
    return path


def test_info_json_reports_paper_sized_models(capsys):
    code, out, _ = run(capsys, "info", "--model", "movnect", "--json")
    info = json.loads(out)
    assert code == 0 and abs(info["parameters"] - 1.03e6) / 1.03e6 < 0.03
    assert info["outputs"]["maps"] == [1, 68, 32, 32]
    code, out, _ = run(capsys, "info", "--model", "vnect", "--json", "--input-size", "128")
    info = json.loads(out)
    assert abs(info["parameters"] - 14.6e6) / 14.6e6 < 0.02 and info["outputs"]["maps"] == [1, 68, 16, 16]


def test_predict_image_writes_per_frame_json(capsys, tiny_ckpt, tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (120, 200, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), img)
    out = tmp_path / "pred.json"
    code, stdout, err = run(capsys, "predict", str(tmp_path / "a.png"), "--model", str(tiny_ckpt), "--json", str(out))
    assert code == 0, err
    doc = json.loads(out.read_text())
    assert len(doc["frames"]) == 1 and len(doc["joint_names"]) == 17
    f = doc["frames"][0]
    j2, j3 = np.array(f["joints2d"]), np.array(f["joints3d"])
    assert j2.shape == (17, 2) and j3.shape == (17, 3) and len(f["confidence"]) == 17
    assert np.allclose(j3[0], 0)  # root-relative
    # 2D is in image pixels: inside the full-frame box (square of side 200 centred on the image)
    x0, y0, side = f["box"]
    assert side == 200 and (j2[:, 0] >= x0 - 8).all() and (j2[:, 0] <= x0 + side + 8).all()


def test_predict_video_one_entry_per_frame(capsys, tiny_ckpt, tmp_path):
    path = tmp_path / "v.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(5):
        w.write(np.full((120, 160, 3), 20 * i, np.uint8))
    w.release()
    code, _, err = run(capsys, "predict", str(path), "--model", str(tiny_ckpt), "--json", str(tmp_path / "v.json"))
    assert code == 0, err
    assert [f["frame"] for f in json.loads((tmp_path / "v.json").read_text())["frames"]] == list(range(5))


def assert_one_line_error(code, err, needle):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("movnect: error:") and needle in lines[0], err


def test_errors_are_one_line(capsys, tiny_ckpt, tmp_path):
    img = tmp_path / "img.png"
    cv2.imwrite(str(img), np.zeros((32, 32, 3), np.uint8))
    code, _, err = run(capsys, "predict", str(img), "--model", str(tmp_path / "none.pt"), "--json", "x.json")
    assert_one_line_error(code, err, "checkpoint not found")
    code, _, err = run(capsys, "predict", str(tmp_path / "missing.png"), "--model", str(tiny_ckpt), "--json", "x.json")
    assert_one_line_error(code, err, "input not found")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    code, _, err = run(capsys, "predict", str(bad), "--model", str(tiny_ckpt), "--json", "x.json")
    assert_one_line_error(code, err, "unreadable image")
    vid = tmp_path / "bad.mp4"
    vid.write_bytes(b"\x00" * 100)
    code, _, err = run(capsys, "predict", str(vid), "--model", str(tiny_ckpt), "--json", str(tmp_path / "y.json"))
    assert_one_line_error(code, err, "video")
    code, _, err = run(capsys, "info", "--model", "resnet")
    assert_one_line_error(code, err, "resnet")


def test_nan_weights_give_a_one_line_nan_error(capsys, tmp_path):
    cfg = ModelConfig(name="movnect", width=0.25)
    model = build_model(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    ck = tmp_path / "nan.pt"
    save_checkpoint(ck, model, cfg, Codec(CodecConfig(input_size=64)))
    cv2.imwrite(str(tmp_path / "i.png"), np.zeros((64, 64, 3), np.uint8))
    code, _, err = run(capsys, "predict", str(tmp_path / "i.png"), "--model", str(ck), "--json", str(tmp_path / "o.json"))
    assert_one_line_error(code, err, "NaN")


def test_checkpoint_for_another_config_is_refused(capsys, tmp_path):
    cfg = ModelConfig(name="movnect", width=0.25)
    ck = tmp_path / "wrong.pt"
    save_checkpoint(ck, build_model(ModelConfig(name="movnect", width=0.5)), cfg, Codec())
    code, _, err = run(capsys, "info", "--model", str(ck))
    assert_one_line_error(code, err, "do not match the model config")


def test_no_command_prints_help(capsys):
    code, out, _ = run(capsys)
    assert code == 2 and "predict" in out


def test_lowercase_library_errors_are_qualified(capsys, monkeypatch):
    import struct

    def boom(args):
        struct.unpack_from("<I", b"")

    monkeypatch.setattr(cli, "COMMANDS", [("info", cli.COMMANDS[0][1], boom)] + cli.COMMANDS[1:])
    code, _, err = run(capsys, "info", "--model", "x")
    assert_one_line_error(code, err, "struct.error: unpack_from")
