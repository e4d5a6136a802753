"""Rendered rows in the prepare-h36m schema: readers unchanged, 2D = projection of 3D, determinism,
resume after interruption, clear errors when anny or the GL backend is missing."""
import builtins
import json

import h5py
import numpy as np
import pytest

from movnect import cli
from movnect.camera import Intrinsics, project
from movnect.codec import Codec
from movnect.data.anny import RendererUnavailable, require
from movnect.data.anny.writer import SynthOptions, synthesize
from movnect.data.dataset import H36MDataset, select_rows
from movnect.data.h36m import open_h36m

OPTS = SynthOptions(rows=5, seed=3, crop_size=48, frames=2, shard_sequences=1)


@pytest.fixture(scope="module")
def anny_file(tmp_path_factory, anny_renderer):
    out = tmp_path_factory.mktemp("anny") / "a.h5"
    summary = synthesize(out, OPTS)
    assert summary["rows"] == 5 and summary["shards"] == 3 and summary["reused_shards"] == 0
    return out


def _arrays(path):
    with h5py.File(path, "r") as f:
        out = {k: f[k][...] for k in ("joints3d", "joints2d", "crop_box", "intrinsics", "frame", "subject", "camera")}
        out["images"] = [bytes(x) for x in f["images"][...]]
    return out


def test_schema_matches_prepare_h36m_and_loaders_read_it(anny_file):
    with open_h36m(anny_file) as f:
        assert f.attrs["rows"] == 5 and f.attrs["crop_size"] == 48 and f.attrs["source"] == "anny"
        for k, shape in (("joints3d", (5, 17, 3)), ("joints2d", (5, 17, 2)), ("crop_box", (5, 3)),
                         ("intrinsics", (5, 9)), ("extrinsics", (5, 7)), ("image_size", (5, 2)), ("frame", (5,)),
                         ("subject", (5,)), ("action", (5,)), ("subaction", (5,)), ("camera", (5,)),
                         ("sequence", (5,)), ("in_frame", (5, 17)), ("source", (5,))):
            assert f[k].shape == shape, k
        assert [x.decode() for x in f["names/subjects"][...]] == ["S1", "S5", "S6", "S7", "S8", "S9", "S11"]
        assert len(f["names/sequences"]) == 3 and json.loads(f["names/sequence_meta"][0])["index"] == 0
    ds = H36MDataset(anny_file, Codec())
    item = ds[0]
    assert item["image"].shape == (3, 256, 256) and item["heatmaps"].shape[0] == 17
    assert len(select_rows(anny_file, None, 1)) == 5


def test_stored_2d_is_the_projection_of_stored_3d_with_stored_intrinsics(anny_file):
    a = _arrays(anny_file)
    for r in range(5):
        i = a["intrinsics"][r]
        assert np.all(i[4:] == 0)  # pinhole renders
        uv = project(a["joints3d"][r].astype(np.float64), Intrinsics((i[0], i[1]), (i[2], i[3])))
        np.testing.assert_allclose(uv, a["joints2d"][r], atol=2e-3)


def test_deterministic_per_seed_and_independent_of_workers(anny_file, tmp_path):
    other = tmp_path / "b.h5"
    synthesize(other, SynthOptions(**{**OPTS.__dict__, "workers": 2}))
    a, b = _arrays(anny_file), _arrays(other)
    for k in a:
        if k == "images":
            assert a[k] == b[k]
        else:
            np.testing.assert_array_equal(a[k], b[k])


def test_resume_after_interruption_gives_the_same_file(anny_file, tmp_path):
    out = tmp_path / "c.h5"
    calls = []

    def stop(done, total):
        calls.append(done)
        if done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        synthesize(out, OPTS, progress=stop)
    assert not out.exists() and len(list((tmp_path / "c.h5.parts").glob("shard_*.h5"))) == 1
    with pytest.raises(ValueError, match="holds a run with other options"):
        synthesize(out, SynthOptions(**{**OPTS.__dict__, "seed": 4}))
    summary = synthesize(out, OPTS)
    assert summary["reused_shards"] == 1 and summary["rendered_samples"] == 4
    a, c = _arrays(anny_file), _arrays(out)
    assert a["images"] == c["images"]
    np.testing.assert_array_equal(a["joints3d"], c["joints3d"])
    with pytest.raises(FileExistsError, match="already exists"):
        synthesize(out, OPTS)


def _hide(monkeypatch, name):
    real = builtins.__import__

    def fake(mod, *args, **kwargs):
        if mod == name or mod.startswith(name + "."):
            raise ImportError(f"No module named '{name}'")
        return real(mod, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)


@pytest.mark.parametrize("missing, needle", [("anny", "anny==0.6.2"), ("moderngl", "moderngl==5.13.0")])
def test_clear_one_line_error_when_a_dependency_is_missing(monkeypatch, tmp_path, capsys, missing, needle):
    _hide(monkeypatch, missing)
    with pytest.raises(RendererUnavailable, match=needle):
        require()
    out = tmp_path / "x.h5"
    assert cli.main(["synth", "--renderer", "anny", "--rows", "2", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("movnect: error: the Anny renderer needs") and needle in err[0]
    assert "pip install -e '.[synth]'" in err[0] and not out.exists()


def test_clear_error_when_no_egl_context(monkeypatch):
    moderngl = pytest.importorskip("moderngl")
    from movnect.data.anny.raster import Rasterizer

    def broken(**kwargs):
        raise Exception("eglGetDisplay failed")

    monkeypatch.setattr(moderngl, "create_standalone_context", broken)
    with pytest.raises(RendererUnavailable, match="no headless OpenGL context.*eglGetDisplay failed"):
        Rasterizer(32)
