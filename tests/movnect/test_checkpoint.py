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


def test_average_checkpoints_is_the_weighted_mean_and_loads(tmp_path):
    from movnect.models import build_model

    cfg = ModelConfig(name="movnect", width=0.25)
    codec = Codec(CodecConfig())
    a, b = build_model(cfg), build_model(cfg)
    with torch.no_grad():
        for p in b.parameters():
            p.add_(1.0)
    for m in b.modules():  # make b's BatchNorm statistics differ too
        if isinstance(m, nn.BatchNorm2d):
            m.running_var.fill_(3.0)
            m.num_batches_tracked.fill_(9)
    ck.save_checkpoint(tmp_path / "a.pt", a, cfg, codec)
    ck.save_checkpoint(tmp_path / "b.pt", b, cfg, codec)
    avg = ck.average_checkpoints([tmp_path / "a.pt", tmp_path / "b.pt"], [1.0, 3.0])
    sa, sb = a.state_dict(), b.state_dict()
    for k, v in avg["model"].items():
        if v.is_floating_point():
            assert torch.allclose(v, 0.25 * sa[k] + 0.75 * sb[k], atol=1e-6), k
        else:
            assert torch.equal(v, sa[k]), k  # integer buffers from the first file
    assert [e["weight"] for e in avg["extra"]["average_of"]] == [0.25, 0.75]
    ck.atomic_torch_save(avg, tmp_path / "soup.pt")
    model, cfg2, _, _ = ck.load_model(tmp_path / "soup.pt")
    assert cfg2 == cfg and torch.allclose(model.state_dict()[k], avg["model"][k])


def test_average_checkpoints_refuses_mixed_architectures_and_bad_weights(tmp_path):
    from movnect.models import build_model

    codec = Codec(CodecConfig())
    for name, width in (("a", 0.25), ("b", 0.5)):
        cfg = ModelConfig(name="movnect", width=width)
        ck.save_checkpoint(tmp_path / f"{name}.pt", build_model(cfg), cfg, codec)
    with pytest.raises(ck.CheckpointError, match="model_config differs"):
        ck.average_checkpoints([tmp_path / "a.pt", tmp_path / "b.pt"])
    with pytest.raises(ck.CheckpointError, match="positive weight"):
        ck.average_checkpoints([tmp_path / "a.pt", tmp_path / "a.pt"], [1.0, 0.0])
    with pytest.raises(ck.CheckpointError, match="at least two"):
        ck.average_checkpoints([tmp_path / "a.pt"])
