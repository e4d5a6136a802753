import math

import numpy as np
import pytest

from movnect.data import transforms as tf


def sample(rng):
    img = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    j2 = rng.uniform(10, 54, (17, 2))
    j3 = rng.normal(0, 300, (17, 3))
    return img, j2, j3 - j3[:1], np.ones(17, np.float32)


def test_affine_matrix_hand_computed():
    m = tf.affine_matrix(65, 1.0, math.pi / 2, (0.0, 0.0))  # centre 32: (33, 32) -> (32, 33)
    np.testing.assert_allclose(m @ np.array([33.0, 32.0, 1.0]), [32.0, 33.0], atol=1e-12)
    m = tf.affine_matrix(65, 2.0, 0.0, (3.0, -1.0))
    np.testing.assert_allclose(m @ np.array([33.0, 32.0, 1.0]), [34.0 + 3.0, 32.0 - 1.0])


def test_rotation_turns_2d_and_3d_by_the_same_angle():
    rng = np.random.default_rng(0)
    img, j2, j3, mask = sample(rng)
    cfg = tf.AugmentConfig(scale=0.0, translate=0.0, rotation_prob=1.0, flip_prob=0.0, color_jitter=0.0,
                           occlusion_prob=0.0)
    _, j2a, j3a, _ = tf.augment(img, j2, j3, mask, cfg, np.random.default_rng(5))
    d2, d2a = j2[13] - j2[0], j2a[13] - j2a[0]
    d3, d3a = j3[13, :2], j3a[13, :2]
    turn2 = math.atan2(d2a[1], d2a[0]) - math.atan2(d2[1], d2[0])
    turn3 = math.atan2(d3a[1], d3a[0]) - math.atan2(d3[1], d3[0])
    assert abs(math.remainder(turn2 - turn3, 2 * math.pi)) < 1e-9 and abs(turn2) > 1e-3
    np.testing.assert_allclose(j3a[:, 2], j3[:, 2])


def test_flip_swaps_sides_and_is_an_involution():
    rng = np.random.default_rng(1)
    img, j2, j3, mask = sample(rng)
    mask[3] = 0
    fi, f2, f3, fm = tf.flip(img, j2, j3, mask)
    np.testing.assert_array_equal(fi[:, 0], img[:, -1])
    np.testing.assert_allclose(f2[6, 0], 63 - j2[3, 0])  # the right foot becomes the left foot
    np.testing.assert_allclose(f3[6], j3[3] * [-1, 1, 1])
    assert fm[6] == 0 and fm[3] == 1
    back = tf.flip(fi, f2, f3, fm)
    for a, b in zip(back, (img, j2, j3, mask)):
        np.testing.assert_allclose(a, b)


def test_disabled_augmentation_is_identity_and_bad_config_rejected():
    rng = np.random.default_rng(2)
    img, j2, j3, mask = sample(rng)
    out = tf.augment(img, j2, j3, mask, tf.NO_AUGMENT, rng)
    assert out[0] is img and out[1] is j2
    with pytest.raises(ValueError, match="flip_prob"):
        tf.AugmentConfig(flip_prob=1.5)
    with pytest.raises(ValueError, match=r"\(S, S, 3\)"):
        tf.augment(np.zeros((64, 32, 3), np.uint8), j2, j3, mask, tf.AugmentConfig(), rng)


def test_occlusion_and_jitter_keep_shape_and_dtype():
    rng = np.random.default_rng(3)
    img = np.full((64, 64, 3), 128, np.uint8)
    occ = tf.occlude(img, rng)
    assert occ.shape == img.shape and occ.dtype == np.uint8 and (occ != img).any()
    jit = tf.color_jitter(img, 0.3, rng)
    assert jit.dtype == np.uint8 and jit.shape == img.shape


def test_reframe_and_compose_hand_computed():
    from movnect.camera import CropBox, image_to_crop
    from movnect.data.transforms import compose_affine, framing_zoom, reframe_affine

    assert framing_zoom(0.5) == pytest.approx(2.0 / 1.4) and framing_zoom(0.2) == 1.0 and framing_zoom(0.1) == 1.0
    # a point of the image seen in a wide box and in the box of the same centre and 1/z the side
    box = CropBox(10.0, 20.0, 200.0)
    z, uv = 1.6, np.array([[60.0, 140.0], [110.0, 120.0]])
    narrow = CropBox.around(box.center, box.side / z)
    m = reframe_affine(256, 128, z)
    wide_px = image_to_crop(uv, box, 256)
    np.testing.assert_allclose(wide_px @ m[:, :2].T + m[:, 2], image_to_crop(uv, narrow, 128), atol=1e-9)
    np.testing.assert_allclose(reframe_affine(100, 100, 2.0), [[2.0, 0.0, -50.0], [0.0, 2.0, -50.0]])
    a, b = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), np.array([[0.5, 0.0, 1.0], [0.0, 2.0, -1.0]])
    h = lambda x: np.vstack([x, [0.0, 0.0, 1.0]])  # noqa: E731
    np.testing.assert_allclose(compose_affine(a, b), (h(a) @ h(b))[:2])
    with pytest.raises(ValueError, match="zoom"):
        reframe_affine(10, 10, 0.0)


def test_pre_map_zooms_into_stored_context_instead_of_black():
    """A crop stored with a green surround around the person's square: with `pre` (the
    reframing) a zoom-out shows green where, without it, the same zoom of the tight crop shows
    black; with augmentation off, `pre` alone is applied."""
    from movnect.data.transforms import reframe_affine

    s, z = 140, 2.0
    wide = np.zeros((s, s, 3), np.uint8)
    wide[...] = (0, 255, 0)
    wide[35:105, 35:105] = (200, 50, 50)  # the tight crop's content, 1/z of the side
    tight = np.full((70, 70, 3), (200, 50, 50), np.uint8)
    j2 = np.random.default_rng(1).uniform(40.0, 100.0, (17, 2))  # wide-crop pixels
    j3, mask = np.zeros((17, 3)), np.ones(17)
    cfg = tf.AugmentConfig(scale=0.45, rotation_prob=0.0, translate=0.0, flip_prob=0.0, color_jitter=0.0,
                        occlusion_prob=0.0)
    greens, blacks = [], []
    for seed in range(8):
        a, ja, _, _ = tf.augment(wide, j2, j3, mask, cfg, np.random.default_rng(seed), pre=reframe_affine(s, 64, z), out_size=64)
        b, jb, _, _ = tf.augment(tight, j2 - 35.0, j3, mask, cfg, np.random.default_rng(seed), out_size=64)
        np.testing.assert_allclose(ja, jb, atol=1e-9)  # same geometry either way
        greens.append(a[0, 0].tolist())
        blacks.append(b[0, 0].tolist())
    zoomed_out = [g for g, k in zip(greens, blacks) if k == [0, 0, 0]]
    assert zoomed_out and all(g == [0, 255, 0] for g in zoomed_out)
    off, j_off, _, _ = tf.augment(wide, j2, j3, mask, tf.NO_AUGMENT, np.random.default_rng(0), pre=reframe_affine(s, 64, z), out_size=64)
    assert off.shape == (64, 64, 3) and off[2, 2].tolist() == [200, 50, 50] and off[61, 61].tolist() == [200, 50, 50]
    np.testing.assert_allclose(j_off, j2 * (128 / 140) - 32.0, atol=1e-9)
