import os

import pytest
import torch
from torch import nn

from movnect import checkpoint as ck
from movnect.codec import Codec, CodecConfig
from movnect.models import ModelConfig, PoseOutput


class Tiny(nn.Module):
    def __init__(self, j: int = 17) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4 * j, 1)

    def forward(self, x):
        m = self.conv(x)
        return PoseOutput(m, m[:, :51], m)


def test_atomic_save_leaves_no_partial_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "ckpt.pt"
    ck.atomic_torch_save({"a": 1}, target)

    def boom(obj, f):
        f.write(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(RuntimeError):
        ck.atomic_torch_save({"a": 2}, target)
    monkeypatch.undo()
    assert torch.load(target) == {"a": 1}  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temp files left


def test_save_and_rebuild_from_file_alone(tmp_path):
    cfg = ModelConfig(name="movnect", width=0.25)
    from movnect.models import build_model

    model = build_model(cfg)
    codec = Codec(CodecConfig(sigma=1.5))
    path = tmp_path / "m.pt"
    ck.save_checkpoint(path, model, cfg, codec, extra={"step": 7})
    model2, cfg2, codec2, raw = ck.load_model(path)
    assert cfg2 == cfg and codec2.config == codec.config and raw["extra"]["step"] == 7
    assert raw["version"] and raw["git"]
    x = torch.randn(1, 3, 64, 64)
    model.eval()
    assert torch.equal(model(x).maps, model2(x).maps)


def test_read_errors(tmp_path):
    with pytest.raises(ck.CheckpointError, match="checkpoint not found"):
        ck.read_checkpoint(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(64))
    with pytest.raises(ck.CheckpointError, match="unreadable"):
        ck.read_checkpoint(junk)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(ck.CheckpointError, match="not a movnect checkpoint"):
        ck.read_checkpoint(other)


def test_load_state_mismatch_names_the_problem():
    a, b = Tiny(17), Tiny(16)
    with pytest.raises(ck.CheckpointError, match=r"of other shape \(e\.g\. conv\.weight: \(64, 3, 1, 1\) vs \(68, 3, 1, 1\)\)"):
        ck.load_state(a, b.state_dict(), "x.pt")
    with pytest.raises(ck.CheckpointError, match="1 missing"):
        ck.load_state(a, {"conv.weight": a.conv.weight}, "x.pt")


def test_load_runs_no_code_and_names_what_it_refused(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    torch.save({"format": ck.FORMAT, "extra": {"x": Payload()}}, tmp_path / "evil.pt")
    with pytest.raises(ck.CheckpointError, match=r"evil.pt is refused: it holds posix.mkdir"):
        ck.read_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


def test_numeric_numpy_arrays_of_older_checkpoints_load_object_arrays_do_not(tmp_path):
    import numpy as np

    torch.save({"format": ck.FORMAT, "rng": np.random.get_state()}, tmp_path / "old.pt")
    state = ck.read_checkpoint(tmp_path / "old.pt")["rng"]
    assert state[1].dtype == np.uint32 and state[1].shape == (624,)
    torch.save({"format": ck.FORMAT, "a": np.array([1, "x"], dtype=object)}, tmp_path / "obj.pt")
    with pytest.raises(ck.CheckpointError, match="is refused"):
        ck.read_checkpoint(tmp_path / "obj.pt")


def test_embedded_default_model_loads_weights_only():
    from movnect.estimator import DEFAULT_MODEL_FILE

    assert torch.serialization.get_unsafe_globals_in_checkpoint(DEFAULT_MODEL_FILE) == []
    model, cfg, _codec, _ = ck.load_model(DEFAULT_MODEL_FILE)
    assert cfg.name and not model.training
