"""scripts/embed_default_model.py: a weights-only copy with its provenance and note."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import embed_default_model as embed  # noqa: E402

from movnect import checkpoint as ck  # noqa: E402
from movnect.codec import Codec, CodecConfig  # noqa: E402
from movnect.models import ModelConfig, build_model  # noqa: E402


def _trained(tmp_path: Path) -> Path:
    cfg = ModelConfig(name="movnect", width=0.25)
    path = tmp_path / "best.pt"
    extra = {"position": {"step": 42}, "metrics": {"val/mpjpe": 150.0},
             "run_config": {"data": {"h36m": "data/anny/x.h5"}}, "optimizer": {"state": [1, 2, 3]}}
    ck.save_checkpoint(path, build_model(cfg), cfg, Codec(CodecConfig(input_size=64)), extra=extra)
    return path


def test_writes_weights_only_with_provenance_and_the_default_note(tmp_path):
    out = tmp_path / "default_student.pt"
    assert embed.main(["--checkpoint", str(_trained(tmp_path)), "--out", str(out), "--no-tflite"]) == 0
    extra = torch.load(out, weights_only=False)["extra"]
    assert extra["kind"] == "weights-only" and extra["step"] == 42
    assert extra["metrics"] == {"val/mpjpe": 150.0} and extra["data"] == {"h36m": "data/anny/x.h5"}
    assert "optimizer" not in extra and extra["note"] == embed.DEFAULT_NOTE
    assert "no real image" in embed.DEFAULT_NOTE
    model, _, codec, _ = ck.load_model(out)  # still a loadable model
    assert codec.config.input_size == 64 and isinstance(model, torch.nn.Module)


def test_a_model_trained_otherwise_carries_its_own_note(tmp_path):
    out = tmp_path / "m.pt"
    note = "trained on Human3.6M S1 S5 S6 S7 S8"
    assert embed.main(["--checkpoint", str(_trained(tmp_path)), "--out", str(out), "--no-tflite", "--note", note]) == 0
    assert torch.load(out, weights_only=False)["extra"]["note"] == note


def test_a_missing_checkpoint_is_a_one_line_error(tmp_path, capsys):
    assert embed.main(["--checkpoint", str(tmp_path / "absent.pt"), "--out", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
    assert not (tmp_path / "m.pt").exists()
