"""LivePipeline's person search, with a stand-in estimator that 'sees' a white square."""
import numpy as np
import pytest

from movnect.camera import CropBox
from movnect.codec import Codec, CodecConfig
from movnect.estimator import Prediction
from movnect.live import LiveConfig, LivePipeline, search_boxes

SIZE = 64


class SquareSeer:
    """Confident (0.9) when white pixels fill over 15% of the crop, else 0.1; its 17 joints
    spread over the white pixels' extent (crop pixels), its 3D a fixed standing pose."""

    name = "square-seer"

    def __init__(self):
        self.codec = Codec(CodecConfig(input_size=SIZE, stride=8))
        self.calls = 0

    def __call__(self, crops):
        self.calls += len(crops)
        out2, conf = [], []
        for c in crops:
            white = c[..., 0] > 128
            ys, xs = np.nonzero(white)
            if white.mean() > 0.15:
                lo, hi = np.array([xs.min(), ys.min()]), np.array([xs.max(), ys.max()])
                t = np.linspace(0, 1, 17)[:, None]
                out2.append(lo + t * (hi - lo))
                conf.append(np.full(17, 0.9))
            else:
                out2.append(np.full((17, 2), SIZE / 2.0))
                conf.append(np.full(17, 0.1))
        j3 = np.zeros((len(crops), 17, 3))
        j3[:, :, 1] = np.linspace(-800, 900, 17)
        return Prediction(np.float32(out2), np.float32(conf), np.float32(j3))


def test_search_boxes_tile_the_frame():
    boxes = search_boxes(480, 640)
    assert boxes[0] == CropBox(-0.5, -80.5, 640.0)  # the full-frame square
    # 3/4 of 480 = 360: x at 0, 140, 280 and y at 0, 120 (stride <= 180) -> 6 windows;
    # 1/2 = 240: x at 0, 100, ..., 400 (400 / 120 -> 4 strides) and y at 0, 120, 240 -> 15
    assert len(boxes) == 1 + 6 + 15
    for b in boxes[1:]:
        assert -0.5 <= b.x0 and b.x0 + b.side <= 639.5 + 1e-9
        assert -0.5 <= b.y0 and b.y0 + b.side <= 479.5 + 1e-9
    assert {round(b.x0 + 0.5, 1) for b in boxes[7:]} == {0.0, 100.0, 200.0, 300.0, 400.0}
    with pytest.raises(ValueError, match="fractions"):
        search_boxes(480, 640, (1.5,))


def _frame(x, y, side=100):
    img = np.zeros((480, 640, 3), np.uint8)
    img[y:y + side, x:x + side] = 255
    return img


def test_search_finds_a_small_person_the_full_frame_misses():
    est = SquareSeer()
    live = LivePipeline(est, (480, 640), config=LiveConfig(search_per_frame=6))
    results = [live.step(_frame(500, 350), t=i / 25)[0] for i in range(6)]
    # full-frame crop: 100^2 / 640^2 = 2% white -> missed; a 240 window holding it: 17% -> found
    assert not results[0].tracked or results[0].box.side < 640
    first = next(i for i, r in enumerate(results) if r.tracked)
    assert first <= 3  # 22 windows at 6 per frame: one sweep within 4 frames
    after = results[-1]
    assert after.tracked
    cx, cy = after.box.center
    assert abs(cx - 549.5) < 30 and abs(cy - 399.5) < 30 and after.box.side < 240
    np.testing.assert_allclose(after.joints2d[[0, -1]], [[500, 350], [599, 449]], atol=3)


def test_search_off_and_empty_room_stay_untracked():
    est = SquareSeer()
    live = LivePipeline(est, (480, 640), config=LiveConfig(search_per_frame=0))
    assert not any(live.step(_frame(500, 350), t=i / 25)[0].tracked for i in range(6))
    assert est.calls == 6  # one crop per frame without search
    est = SquareSeer()
    live = LivePipeline(est, (480, 640), config=LiveConfig(search_per_frame=4))
    empty = np.zeros((480, 640, 3), np.uint8)
    assert not any(live.step(empty, t=i / 25)[0].tracked for i in range(8))
    assert est.calls == 8 * 5  # the box crop plus 4 search windows per untracked frame
    with pytest.raises(ValueError, match="search_per_frame"):
        LiveConfig(search_per_frame=-1)
