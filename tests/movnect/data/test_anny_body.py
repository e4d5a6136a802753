"""Anny wrapper: cache location, phenotype sampling, stature fitting, posing identity."""
from dataclasses import replace

import numpy as np

from movnect.data.anny import body as B


def test_cache_dir_follows_anny_cache_dir_then_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("ANNY_CACHE_DIR", str(tmp_path / "a"))
    assert B.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("ANNY_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert B.cache_dir() == tmp_path / "x" / "movnect" / "anny"


def test_sampled_phenotypes_cover_teens_adults_both_genders():
    rng = np.random.default_rng(0)
    ps = [B.sample_phenotype(rng) for _ in range(400)]
    a = np.array([p.as_array() for p in ps])
    assert a.min() >= 0 and a.max() <= 1
    age = a[:, 1]
    assert age.min() >= B.AGE_TEEN and (age < B.AGE_YOUNG).mean() > 0.08 and (age > 0.9).any()
    assert (a[:, 0] < 0.2).mean() > 0.25 and (a[:, 0] > 0.8).mean() > 0.25
    assert a[:, 3].std() > 0.12  # thin to heavy


def test_skin_tones_span_light_to_dark():
    rng = np.random.default_rng(1)
    lum = np.array([B.sample_skin(rng).mean() for _ in range(200)])
    assert lum.min() < 0.25 and lum.max() > 0.8


def test_with_stature_hits_the_target_and_teens_are_shorter(anny_body):
    rng = np.random.default_rng(2)
    p = B.Phenotype(0.0, 0.7, 0.5, 0.5, 0.5, 0.5)
    for target in (1.6, 1.78, 1.92):
        assert abs(anny_body.stature(anny_body.with_stature(p, target)) - target) < 0.01
    teen = replace(p, age=B.AGE_TEEN)
    assert B.sample_stature(np.random.default_rng(3), teen) < B.sample_stature(np.random.default_rng(3), p)
    assert 1.45 <= B.sample_stature(rng, p) <= 2.02


def test_identity_rotations_give_the_rest_mesh(anny_body):
    p = B.Phenotype(1.0, 0.8, 0.4, 0.7, 0.3, 0.5)
    rest = anny_body.rest(p)
    rot = np.repeat(np.eye(3)[None, None], len(anny_body.bone_labels), 1).repeat(2, 0)
    out = anny_body.pose(p, rot, np.repeat(rest["heads"][:1], 2, 0))
    np.testing.assert_allclose(out["vertices"][1], rest["vertices"], atol=1e-5)
    np.testing.assert_allclose(out["heads"][0], rest["heads"], atol=1e-5)
    assert out["vertices"].shape == (2, anny_body.num_vertices, 3)


def test_pose_rejects_wrong_shapes(anny_body):
    p = B.Phenotype(0.5, 0.7, 0.5, 0.5, 0.5, 0.5)
    import pytest

    with pytest.raises(ValueError, match=r"expected rotations \(T, 104, 3, 3\), got \(2, 3, 3\)"):
        anny_body.pose(p, np.zeros((2, 3, 3)), np.zeros((2, 3)))


def test_ensure_cache_builds_only_when_empty(monkeypatch, tmp_path):
    built = []
    monkeypatch.setattr(B, "AnnyBody", lambda: built.append(1))
    monkeypatch.setenv("ANNY_CACHE_DIR", str(tmp_path / "c"))
    assert B.ensure_cache() is True and built == [1]
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "v14").mkdir()
    (tmp_path / "c" / "v14" / "model.safetensors").write_bytes(b"x")
    assert B.ensure_cache() is False and built == [1]
