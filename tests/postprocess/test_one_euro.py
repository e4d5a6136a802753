"""1-Euro filter: hand-computed steps, an independent scalar reference, scale invariance,
missing-value handling and input errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

from postprocess.one_euro import (
    VNECT_2D, VNECT_3D, OneEuroConfig, OneEuroFilter, vnect_scale_2d, vnect_scale_3d,
)


def reference_point(xs: np.ndarray, ts: np.ndarray, cfg: OneEuroConfig, scale: float = 1.0) -> np.ndarray:
    """Textbook 1-Euro (Casiez et al. 2012) on one D-dimensional point, written independently."""
    def alpha(fc, dt):
        tau = 1.0 / (2.0 * math.pi * fc)
        return 1.0 / (1.0 + tau / dt)
    out = [xs[0].copy()]
    x_hat, dx_hat = xs[0].copy(), np.zeros_like(xs[0])
    for i in range(1, len(xs)):
        dt = ts[i] - ts[i - 1]
        dx = (xs[i] - x_hat) / dt
        dx_hat = dx_hat + alpha(cfg.d_cutoff, dt) * (dx - dx_hat)
        fc = cfg.min_cutoff + cfg.beta * np.linalg.norm(dx_hat) / scale
        x_hat = x_hat + alpha(fc, dt) * (xs[i] - x_hat)
        out.append(x_hat.copy())
    return np.array(out)


def test_vnect_presets_and_scales():
    assert (VNECT_2D.min_cutoff, VNECT_2D.beta, VNECT_2D.d_cutoff) == (1.7, 0.3, 0.4)
    assert (VNECT_3D.min_cutoff, VNECT_3D.beta, VNECT_3D.d_cutoff) == (0.8, 0.4, 0.4)
    assert vnect_scale_2d(368.0) == 1.0 and vnect_scale_2d(736.0) == 2.0
    assert vnect_scale_3d(920.0) == pytest.approx(100.0)   # mm per VNect decimetre


def test_hand_computed_step():
    cfg = OneEuroConfig(min_cutoff=1.0, beta=0.5, d_cutoff=1.0)
    f = OneEuroFilter(cfg)
    assert f(np.array([[0.0]]), 0.0)[0, 0] == 0.0          # first value passes through
    a = 1.0 / (1.0 + 1.0 / (2 * math.pi * 1.0 * 0.1))      # alpha at 1 Hz, dt = 0.1 s
    dx_hat = a * 10.0                                        # derivative (1 - 0) / 0.1
    fc = 1.0 + 0.5 * dx_hat
    expected = 1.0 / (1.0 + 1.0 / (2 * math.pi * fc * 0.1))
    assert f(np.array([[1.0]]), 0.1)[0, 0] == pytest.approx(expected, rel=1e-12)


def test_matches_scalar_reference_with_variable_rate():
    rng = np.random.default_rng(1)
    ts = np.cumsum(rng.uniform(0.01, 0.06, 80))
    xs = np.cumsum(rng.normal(0, 5, (80, 17, 3)), axis=0)
    cfg = OneEuroConfig(min_cutoff=0.8, beta=0.4, d_cutoff=0.4)
    f = OneEuroFilter(cfg)
    got = np.stack([f(x, t, scale=7.0) for x, t in zip(xs, ts)])
    for j in (0, 5, 16):
        np.testing.assert_allclose(got[:, j], reference_point(xs[:, j], ts, cfg, 7.0), rtol=1e-12, atol=1e-12)


def test_scale_normalisation_makes_the_filter_size_invariant():
    rng = np.random.default_rng(2)
    ts = np.arange(50) / 30.0
    xs = np.cumsum(rng.normal(0, 3, (50, 4, 2)), axis=0)
    a, b = OneEuroFilter(VNECT_2D), OneEuroFilter(VNECT_2D)
    small = np.stack([a(x, t, scale=1.0) for x, t in zip(xs, ts)])
    big = np.stack([b(10.0 * x, t, scale=10.0) for x, t in zip(xs, ts)])
    np.testing.assert_allclose(big, 10.0 * small, rtol=1e-10)


def test_reduces_jitter_at_rest_and_follows_a_step():
    rng = np.random.default_rng(3)
    ts = np.arange(300) / 30.0
    noisy = 100.0 + rng.normal(0, 10.0, (300, 17, 3))
    f = OneEuroFilter(VNECT_3D)
    out = np.stack([f(x, t, scale=100.0) for x, t in zip(noisy, ts)])
    assert out[100:].std() < 0.35 * noisy[100:].std()
    g = OneEuroFilter(VNECT_3D)
    step = np.where(ts[:, None, None] < 2.0, 0.0, 1000.0) * np.ones((300, 1, 3))
    out = np.stack([g(x, t, scale=100.0) for x, t in zip(step, ts)])
    assert abs(out[-1] - 1000.0).max() < 1.0                     # converges after the step


def test_missing_points_are_held_then_resume_with_the_right_dt():
    cfg = OneEuroConfig(min_cutoff=1.0, beta=0.0, d_cutoff=1.0, max_gap=0.5)
    f = OneEuroFilter(cfg)
    assert np.isnan(f(np.array([[np.nan, 1.0]]), 0.0)).all()      # never seen: NaN
    f(np.array([[0.0, 0.0]]), 0.1)
    held = f(np.array([[np.nan, 0.0]]), 0.2)
    assert held[0, 0] == 0.0                                        # held at its last value
    out = f(np.array([[1.0, 0.0]]), 0.3)                            # dt = 0.2 since last seen
    assert out[0, 0] == pytest.approx(1.0 / (1.0 + 1.0 / (2 * math.pi * 0.2)))
    f(np.array([[np.nan, 0.0]]), 0.4)
    restarted = f(np.array([[50.0, 0.0]]), 1.5)                     # gap 1.2 s > max_gap
    assert restarted[0, 0] == 50.0


def test_valid_mask_marks_points_missing():
    f = OneEuroFilter(OneEuroConfig())
    f(np.zeros((3, 2)), 0.0)
    out = f(np.full((3, 2), 9.0), 0.1, valid=np.array([True, False, True]))
    assert out[1].tolist() == [0.0, 0.0] and out[0, 0] > 0.0


@pytest.mark.parametrize("t2", [0.0, -1.0, float("nan")])
def test_non_increasing_or_bad_timestamps_raise(t2):
    f = OneEuroFilter()
    f(np.zeros((17, 3)), 0.0)
    with pytest.raises(ValueError, match="timestamp"):
        f(np.zeros((17, 3)), t2)


def test_shape_and_argument_errors():
    f = OneEuroFilter()
    f(np.zeros((17, 3)), 0.0)
    with pytest.raises(ValueError, match=r"\(17, 2\)"):
        f(np.zeros((17, 2)), 1.0)
    with pytest.raises(ValueError, match="scale"):
        f(np.zeros((17, 3)), 2.0, scale=0.0)
    with pytest.raises(ValueError, match="valid"):
        f(np.zeros((17, 3)), 3.0, valid=np.ones(16, dtype=bool))
    with pytest.raises(ValueError, match="non-empty"):
        OneEuroFilter()(np.zeros((0, 3)), 0.0)
    for bad in (dict(min_cutoff=0.0), dict(beta=-1.0), dict(d_cutoff=float("nan")), dict(max_gap=0.0)):
        with pytest.raises(ValueError, match="OneEuroConfig"):
            OneEuroConfig(**bad)
    f.reset()
    assert f(np.ones((2, 2)), 0.0).shape == (2, 2)                  # reset accepts a new shape
