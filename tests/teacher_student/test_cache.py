"""Teacher-output cache: round trip against the live teacher, identity checks (teacher, codec,
data file), misses."""
from __future__ import annotations

from pathlib import Path

import os

import h5py
import numpy as np
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


def _data_file(path: Path, rows: int, crop: int = 64, frame_offset: int = 0) -> Path:
    """A stand-in for a prepared HDF5 file: its index columns and crop size (all the identity reads)."""
    with h5py.File(path, "w") as f:
        f.attrs["crop_size"] = crop
        f.create_dataset("frame", data=np.arange(rows, dtype=np.int32) + frame_offset)
        for name in ("subject", "action", "subaction", "camera"):
            f.create_dataset(name, data=np.zeros(rows, np.int16))
    return path


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    return _data_file(tmp_path / "data.h5", 8)


def test_cache_round_trip_matches_the_live_teacher(tmp_path: Path, data: Path) -> None:
    teacher, tpath = _teacher(tmp_path)
    data_set = ToyPoseDataset(5, CODEC)
    calls = []
    out = build_cache(tmp_path / "c.h5", teacher, tpath, {"name": "vnect"}, CODEC, data_set,
                      data_file=data, include_feature=True, batch_size=2, progress=lambda d, n: calls.append((d, n)))
    assert calls[-1] == (5, 5)
    cache = TeacherCache(out)
    cache.check_matches(tpath, CODEC, need_feature=True, data_file=data)
    assert len(cache) == 5 and cache.has_feature
    with torch.no_grad():
        live = teacher(torch.stack([data_set[i]["image"] for i in (3, 0)]))
    wrapped = CachedTeacherDataset(data_set, cache)
    for k, i in enumerate((3, 0)):
        s = wrapped[i]
        assert s["teacher_cached"].item() == 1.0
        torch.testing.assert_close(s["teacher_maps"], live.maps[k], atol=5e-3, rtol=2e-3)  # float16
        torch.testing.assert_close(s["teacher_feature"], live.feature[k], atol=5e-3, rtol=2e-3)
        assert set(data_set[i]) < set(s)


def test_cache_misses_are_flagged_and_zero(tmp_path: Path, data: Path) -> None:
    teacher, tpath = _teacher(tmp_path)
    cache = TeacherCache(build_cache(tmp_path / "c.h5", teacher, tpath, {}, CODEC, ToyPoseDataset(3, CODEC),
                                     data_file=data, include_feature=False))
    assert cache.position(2) >= 0 and cache.position(3) == -1 and cache.read(7) is None
    s = CachedTeacherDataset(ToyPoseDataset(2, CODEC, has3d=False), cache)[1]  # index -1
    assert s["teacher_cached"].item() == 0.0 and s["teacher_maps"].abs().sum() == 0
    assert "teacher_feature" not in s
    with pytest.raises(CacheError, match="holds no features"):
        cache.check_matches(tpath, CODEC, need_feature=True, data_file=data)


def test_cache_refuses_another_teacher_or_codec(tmp_path: Path, data: Path) -> None:
    teacher, tpath = _teacher(tmp_path)
    _, other = _teacher(tmp_path, seed=1)
    cache = TeacherCache(build_cache(tmp_path / "c.h5", teacher, tpath, {}, CODEC, ToyPoseDataset(2, CODEC),
                                     data_file=data, include_feature=False))
    with pytest.raises(CacheError, match="another teacher"):
        cache.check_matches(other, CODEC, need_feature=False, data_file=data)
    with pytest.raises(CacheError, match="another codec"):
        cache.check_matches(tpath, Codec(CodecConfig(input_size=64, sigma=2.0)), need_feature=False, data_file=data)


def test_cache_build_errors(tmp_path: Path, data: Path) -> None:
    teacher, tpath = _teacher(tmp_path)
    with pytest.raises(CacheError, match="index -1"):
        build_cache(tmp_path / "a.h5", teacher, tpath, {}, CODEC, ToyPoseDataset(2, CODEC, has3d=False),
                    data_file=data, include_feature=False)
    twice = ConcatDataset([ToyPoseDataset(2, CODEC), ToyPoseDataset(2, CODEC)])
    with pytest.raises(CacheError, match="repeats a row"):
        build_cache(tmp_path / "b.h5", teacher, tpath, {}, CODEC, twice, data_file=data, include_feature=False)
    assert not (tmp_path / "b.h5").exists() and not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(CacheError, match="not found"):
        TeacherCache(tmp_path / "missing.h5")
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f.create_dataset("rows", data=[0])
        f.create_dataset("order", data=[0])
        f.create_dataset("maps", data=torch.zeros(1, 4).numpy())
    with pytest.raises(CacheError, match="not a teacher cache"):
        TeacherCache(tmp_path / "bad.h5")


@pytest.mark.parametrize("change", ["other rows, same count", "more rows", "crop size", "rewritten in place"])
def test_cache_refuses_another_data_file_in_one_line(tmp_path: Path, data: Path, change: str) -> None:
    teacher, tpath = _teacher(tmp_path)
    cache = TeacherCache(build_cache(tmp_path / "c.h5", teacher, tpath, {}, CODEC, ToyPoseDataset(3, CODEC),
                                     data_file=data, include_feature=False))
    other = tmp_path / "other.h5"
    if change == "other rows, same count":  # the reproduced case: same row numbers, other frames
        _data_file(other, 8, frame_offset=100)
    elif change == "more rows":
        _data_file(other, 9)
    elif change == "crop size":
        _data_file(other, 8, crop=128)
    else:  # the same path, re-prepared: identical index columns, newer mtime
        other = data
        st = os.stat(data)
        os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    with pytest.raises(CacheError) as err:
        cache.check_matches(tpath, CODEC, need_feature=False, data_file=other)
    msg = str(err.value)
    assert "\n" not in msg and str(data) in msg and str(other) in msg and "rebuild" in msg
    if change != "rewritten in place":
        cache.check_matches(tpath, CODEC, need_feature=False, data_file=data)  # the original still passes


def test_cache_accepts_a_copy_that_keeps_size_and_mtime(tmp_path: Path, data: Path) -> None:
    import shutil

    teacher, tpath = _teacher(tmp_path)
    cache = TeacherCache(build_cache(tmp_path / "c.h5", teacher, tpath, {}, CODEC, ToyPoseDataset(3, CODEC),
                                     data_file=data, include_feature=False))
    copy = Path(shutil.copy2(data, tmp_path / "copy.h5"))
    cache.check_matches(tpath, CODEC, need_feature=False, data_file=copy)


def test_old_caches_without_a_data_identity_are_refused(tmp_path: Path, data: Path) -> None:
    teacher, tpath = _teacher(tmp_path)
    path = build_cache(tmp_path / "c.h5", teacher, tpath, {}, CODEC, ToyPoseDataset(2, CODEC),
                       data_file=data, include_feature=False)
    with h5py.File(path, "r+") as f:
        f.attrs["format"] = "movnect-teacher-cache/1"
    with pytest.raises(CacheError, match="predates data-file identities"):
        TeacherCache(path)
