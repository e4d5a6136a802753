"""Image degradations: shapes, neutral settings, each effect does something."""
import numpy as np
import pytest

from movnect.data.anny.degrade import Degradation, degrade, sample_degradation

NEUTRAL = Degradation((1.0, 1.0, 1.0), 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 90)


def test_neutral_is_identity_and_effects_change_the_image():
    rng = np.random.default_rng(0)
    img = (rng.uniform(0, 255, (256, 256, 3))).astype(np.uint8)
    np.testing.assert_array_equal(degrade(img, NEUTRAL, rng), img)
    from dataclasses import replace

    for change in (dict(gains=(1.2, 1.0, 0.8)), dict(exposure=1.5), dict(gamma=0.8), dict(defocus=1.0),
                   dict(motion=6.0), dict(noise=4.0)):
        out = degrade(img, replace(NEUTRAL, **change), rng)
        assert out.shape == img.shape and out.dtype == np.uint8 and np.abs(out.astype(int) - img).mean() > 1
    d = sample_degradation(rng)
    assert 40 <= d.jpeg_quality <= 95 and abs(np.mean(d.gains) - 1) < 1e-9


def test_degrade_rejects_bad_input():
    with pytest.raises(ValueError, match=r"expected \(H, W, 3\) uint8, got \(4, 4\)"):
        degrade(np.zeros((4, 4), np.uint8), NEUTRAL, np.random.default_rng(0))
