"""Teacher-output cache: round trip against the live teacher, identity checks, misses."""
from __future__ import annotations

from pathlib import Path

import h5py
import pytest
import torch
from torch.utils.data import ConcatDataset

from movnect.checkpoint import save_checkpoint
from movnect.codec import Codec, CodecConfig
from movnect.models import ModelConfig, build_model
from teacher_student.cache import CacheError, CachedTeacherDataset, TeacherCache, build_cache
from tests.teacher_student.toy_data import ToyPoseDataset

CODEC = Codec(CodecConfig(input_size=64))
TCFG = ModelConfig(name="vnect", depth=18)


def _teacher(tmp: Path, seed: int = 0) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(seed)
    teacher = build_model(TCFG).eval()
    path = tmp / f"teacher{seed}.pt"
    save_checkpoint(path, teacher, TCFG, CODEC)
    return teacher, path


def test_cache_round_trip_matches_the_live_teacher(tmp_path: Path) -> None:
    teacher, tpath = _teacher(tmp_path)
    data = ToyPoseDataset(5, CODEC)
    calls = []
    out = build_cache(tmp_path / "c.h5", teacher, tpath, {"name": "vnect"}, CODEC, data,
                      include_feature=True, batch_size=2, progress=lambda d, n: calls.append((d, n)))
    assert calls[-1] == (5, 5)
    cache = TeacherCache(out)
    cache.check_matches(tpath, CODEC, need_feature=True)
    assert len(cache) == 5 and cache.has_feature
    with torch.no_grad():
        live = teacher(torch.stack([data[i]["image"] for i in (3, 0)]))
    wrapped = CachedTeacherDataset(data, cache)
    for k, i in enumerate((3, 0)):
        s = wrapped[i]
        assert s["teacher_cached"].item() == 1.0
        torch.testing.assert_close(s["teacher_maps"], live.maps[k], atol=5e-3, rtol=2e-3)  # float16
        torch.testing.assert_close(s["teacher_feature"], live.feature[k], atol=5e-3, rtol=2e-3)
        assert set(data[i]) < set(s)


def test_cache_misses_are_flagged_and_zero(tmp_path: Path) -> None:
    teacher, tpath = _teacher(tmp_path)
    cache = TeacherCache(build_cache(tmp_path / "c.h5", teacher, tpath, {}, CODEC, ToyPoseDataset(3, CODEC),
                                     include_feature=False))
    assert cache.position(2) >= 0 and cache.position(3) == -1 and cache.read(7) is None
    s = CachedTeacherDataset(ToyPoseDataset(2, CODEC, has3d=False), cache)[1]  # index -1
    assert s["teacher_cached"].item() == 0.0 and s["teacher_maps"].abs().sum() == 0
    assert "teacher_feature" not in s
    with pytest.raises(CacheError, match="holds no features"):
        cache.check_matches(tpath, CODEC, need_feature=True)


def test_cache_refuses_another_teacher_or_codec(tmp_path: Path) -> None:
    teacher, tpath = _teacher(tmp_path)
    _, other = _teacher(tmp_path, seed=1)
    cache = TeacherCache(build_cache(tmp_path / "c.h5", teacher, tpath, {}, CODEC, ToyPoseDataset(2, CODEC),
                                     include_feature=False))
    with pytest.raises(CacheError, match="another teacher"):
        cache.check_matches(other, CODEC, need_feature=False)
    with pytest.raises(CacheError, match="another codec"):
        cache.check_matches(tpath, Codec(CodecConfig(input_size=64, sigma=2.0)), need_feature=False)


def test_cache_build_errors(tmp_path: Path) -> None:
    teacher, tpath = _teacher(tmp_path)
    with pytest.raises(CacheError, match="index -1"):
        build_cache(tmp_path / "a.h5", teacher, tpath, {}, CODEC, ToyPoseDataset(2, CODEC, has3d=False), include_feature=False)
    twice = ConcatDataset([ToyPoseDataset(2, CODEC), ToyPoseDataset(2, CODEC)])
    with pytest.raises(CacheError, match="repeats a row"):
        build_cache(tmp_path / "b.h5", teacher, tpath, {}, CODEC, twice, include_feature=False)
    assert not (tmp_path / "b.h5").exists() and not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(CacheError, match="not found"):
        TeacherCache(tmp_path / "missing.h5")
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f.create_dataset("rows", data=[0])
        f.create_dataset("order", data=[0])
        f.create_dataset("maps", data=torch.zeros(1, 4).numpy())
    with pytest.raises(CacheError, match="not a teacher cache"):
        TeacherCache(tmp_path / "bad.h5")
