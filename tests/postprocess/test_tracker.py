"""Box tracker: hand-computed padding, smoothing towards the target, fallback when lost."""
from __future__ import annotations

import numpy as np
import pytest

from movnect.camera import CropBox
from postprocess.one_euro import OneEuroConfig
from postprocess.tracker import BoxTracker, TrackerConfig, box_from_joints


def joints_in(x0, x1, y0, y1, n=17):
    rng = np.random.default_rng(0)
    k = np.stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)], axis=1)
    k[0], k[1] = (x0, y0), (x1, y1)
    return k


def test_box_padding_hand_computed():
    k = joints_in(100.0, 200.0, 50.0, 450.0)
    vnect = TrackerConfig(pad_x=0.4, pad_y=0.1)
    box = box_from_joints(k, None, vnect)
    # width 100 -> 100 + 2 * 0.4 * 100 = 180; height 400 -> 400 + 2 * 0.1 * 400 = 480 (square)
    assert box.side == pytest.approx(480.0)
    assert box.center == pytest.approx((150.0, 250.0))
    wide = box_from_joints(joints_in(0.0, 400.0, 0.0, 100.0), None, vnect)
    assert wide.side == pytest.approx(720.0)                      # 400 * 1.8 > 100 * 1.2
    # default: 0.2 on every side -> 1.4 x the larger extent = 560
    assert box_from_joints(k, None).side == pytest.approx(560.0)


def test_default_box_frames_like_the_training_crops():
    from movnect.data.h36m import PrepareOptions, person_box

    k = joints_in(100.0, 260.0, 50.0, 450.0)
    assert box_from_joints(k, None) == person_box(k, PrepareOptions().margin)


def test_low_confidence_joints_are_ignored_and_too_few_give_none():
    k = joints_in(100.0, 200.0, 50.0, 450.0)
    k[5] = (5000.0, 5000.0)
    conf = np.ones(17)
    conf[5] = 0.1
    assert box_from_joints(k, conf).side == pytest.approx(560.0)
    assert box_from_joints(k, np.full(17, 0.1)) is None
    k[:] = np.nan
    assert box_from_joints(k, None) is None


def test_tracker_follows_and_holds_when_lost():
    start = CropBox(0.0, 0.0, 1000.0)
    tr = BoxTracker(start)
    k = joints_in(100.0, 200.0, 50.0, 450.0)
    first = tr.update(k, None, 0.0)
    assert first.side == pytest.approx(560.0)                     # first target taken as is
    for i in range(1, 60):                                        # person moves right 300 px
        box = tr.update(k + [300.0, 0.0], None, i / 30.0)
    assert box.center[0] == pytest.approx(450.0, abs=1.0)
    lost = tr.update(k, np.zeros(17), 2.1)
    assert lost == box                                            # previous box kept
    tr.reset()
    assert tr.box == start


def test_smoothing_damps_jitter():
    rng = np.random.default_rng(1)
    tr = BoxTracker(CropBox(0.0, 0.0, 1000.0), TrackerConfig(smoothing=OneEuroConfig(1.0, 0.5, 1.0)))
    k = joints_in(100.0, 200.0, 50.0, 450.0)
    centres, raw = [], []
    for i in range(90):
        noisy = k + rng.normal(0, 5.0, (1, 2))
        centres.append(tr.update(noisy, None, i / 30.0).center[0])
        raw.append(box_from_joints(noisy, None).center[0])
    assert np.std(np.diff(centres[30:])) < 0.5 * np.std(np.diff(raw[30:]))


def test_errors():
    with pytest.raises(ValueError, match=r"\(17, 3\)"):
        box_from_joints(np.zeros((17, 3)), None)
    with pytest.raises(ValueError, match="confidence"):
        box_from_joints(np.zeros((17, 2)), np.ones(3))
    with pytest.raises(ValueError, match="TrackerConfig"):
        TrackerConfig(pad_x=-0.1)
    tr = BoxTracker(CropBox(0.0, 0.0, 100.0))
    tr.update(joints_in(0, 10, 0, 10), None, 1.0)
    with pytest.raises(ValueError, match="increase strictly"):
        tr.update(joints_in(0, 10, 0, 10), None, 1.0)
