"""BlazePose detector decoding: anchors, box/keypoint decoding, weighted NMS, letterbox, regions."""
import math

import numpy as np
import pytest

from movnect.blazepose.detector import INPUT, NUM_ANCHORS, Roi, decode, letterbox, roi_from_points, ssd_anchors


def test_anchors_match_the_ssd_layout():
    a = ssd_anchors()
    assert a.shape == (NUM_ANCHORS, 2)
    # stride 8: 28 x 28 cells, 2 anchors each, row-major from the top-left cell
    assert np.allclose(a[0], [0.5 / 28, 0.5 / 28]) and np.allclose(a[1], a[0])
    assert np.allclose(a[2], [1.5 / 28, 0.5 / 28])
    assert np.allclose(a[28 * 28 * 2 - 1], [27.5 / 28, 27.5 / 28])
    # stride 16 then three stride-32 layers merged: 7 x 7 cells with 6 anchors
    assert np.allclose(a[1568], [0.5 / 14, 0.5 / 14])
    assert np.allclose(a[1568 + 392: 1568 + 392 + 6], [0.5 / 7, 0.5 / 7])


def _raw(anchor, score_logit, dx=0.0, dy=0.0, w=22.4, h=44.8, kps=((0, 10), (0, -50), (0, -20), (0, -30))):
    boxes = np.zeros((NUM_ANCHORS, 12), np.float32)
    scores = np.full(NUM_ANCHORS, -20.0, np.float32)
    boxes[anchor, :4] = (dx, dy, w, h)
    boxes[anchor, 4:] = np.ravel(kps)
    scores[anchor] = score_logit
    return boxes, scores


def test_decode_one_box_hand_computed():
    anchors = ssd_anchors()
    i = 2 * (28 * 10 + 5)  # cell (row 10, col 5) of the stride-8 layer
    boxes, scores = _raw(i, 2.0, dx=11.2)
    (box, kp, s), = decode(boxes, scores, anchors)
    cx, cy = anchors[i] + (11.2 / INPUT, 0.0)
    assert s == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert np.allclose(box, [cx - 0.05, cy - 0.1, cx + 0.05, cy + 0.1])
    assert np.allclose(kp[1], anchors[i] + np.array([0, -50]) / INPUT)
    assert decode(boxes, scores, anchors, min_score=0.95) == []


def test_weighted_nms_averages_overlapping_boxes():
    anchors = ssd_anchors()
    b1, s1 = _raw(0, 3.0)
    b2, s2 = _raw(1, 1.0, dx=2.24)  # same cell, shifted by 0.01
    boxes, scores = b1 + b2, np.maximum(s1, s2)
    (box, _, s), = decode(boxes, scores, anchors)
    w1, w2 = 1 / (1 + math.exp(-3.0)), 1 / (1 + math.exp(-1.0))
    assert box[0] == pytest.approx(anchors[0, 0] - 0.05 + 0.01 * w2 / (w1 + w2))
    assert s == pytest.approx(w1)


def test_letterbox_maps_points_consistently():
    img = np.zeros((100, 400, 3), np.uint8)
    img[40:60, 300:320] = 255
    out, scale, pad = letterbox(img)
    assert out.shape == (INPUT, INPUT, 3)
    assert np.allclose(scale, [224 / 400, 56 / 100]) and np.allclose(pad, [0, 84])
    ys, xs = np.nonzero(out[..., 0] > 128)
    centre_model = np.array([xs.mean() + 0.5, ys.mean() + 0.5])        # continuous model coords
    centre_image = (centre_model - pad) / scale - 0.5                   # pixel centres
    assert np.allclose(centre_image, [309.5, 49.5], atol=1.5)


def test_roi_geometry():
    roi = Roi(100.0, 200.0, 50.0, 0.0)
    assert np.allclose(roi.to_image(np.array([127.5, 127.5]), 256), [100, 200])
    # upright person: hip centre below the circle point -> no rotation
    r = roi_from_points(np.array([10.0, 100.0]), np.array([10.0, 20.0]))
    assert r.angle == pytest.approx(0.0) and r.side == pytest.approx(2 * 80 * 1.25)
    # lying to the right: the crop's up points to the image's right
    r = roi_from_points(np.array([0.0, 0.0]), np.array([80.0, 0.0]))
    up = r.to_image(np.array([127.5, 0.0]), 256) - r.to_image(np.array([127.5, 127.5]), 256)
    assert up[0] > 0 and abs(up[1]) < 1e-9


def test_roi_crop_samples_the_rotated_region():
    img = np.zeros((200, 200, 3), np.uint8)
    img[50:60, 140:150] = 255  # a spot right of the centre
    roi = Roi(99.5, 99.5, 128.0, math.pi / 2)  # crop up = image right
    crop = roi.crop(img, 128)
    ys, xs = np.nonzero(crop[..., 0] > 128)
    back = roi.to_image(np.array([xs.mean(), ys.mean()]), 128)
    assert np.allclose(back, [144.5, 54.5], atol=1.0)
    assert ys.mean() < 64  # appears in the crop's upper half
