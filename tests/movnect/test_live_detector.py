"""LivePipeline with a person detector: acquisition, dropping a box nobody is in, no jumps."""
import numpy as np

from movnect.camera import CropBox
from movnect.live import LiveConfig, LivePipeline, box_overlap

from tests.movnect.test_live import SquareSeer, _frame


class FakeDetector:
    """Returns the boxes a test sets, counting calls."""

    def __init__(self, boxes):
        self.boxes, self.calls = boxes, 0

    def __call__(self, frame):
        self.calls += 1
        return list(self.boxes)


def test_box_overlap():
    assert box_overlap(CropBox(0, 0, 10), CropBox(2, 2, 4)) == 1.0
    assert box_overlap(CropBox(0, 0, 10), CropBox(20, 0, 10)) == 0.0
    assert abs(box_overlap(CropBox(0, 0, 10), CropBox(5, 0, 10)) - 0.5) < 1e-12


def test_no_candidate_means_no_model_run_and_untracked():
    est, det = SquareSeer(), FakeDetector([])
    pipe = LivePipeline(est, (480, 640), config=LiveConfig(calibration_frames=2), detector=det)
    for i in range(3):
        r, _ = pipe.step(_frame(300, 200), i / 30)
        assert not r.tracked and r.confidence.max() == 0.0
    assert est.calls == 0 and det.calls == 3


def test_acquires_the_detected_box_and_verifies_periodically():
    est = SquareSeer()
    det = FakeDetector([CropBox(250, 150, 200)])  # around the square at (300, 200)
    pipe = LivePipeline(est, (480, 640), config=LiveConfig(verify_every=5, calibration_frames=2), detector=det)
    tracked = [pipe.step(_frame(300, 200), i / 30)[0].tracked for i in range(11)]
    assert all(tracked)
    assert det.calls == 3  # frame 0 (acquire), then checks at frames 5 and 10


def test_a_box_nobody_is_in_is_dropped_after_missed_checks():
    # the estimator keeps seeing the white square, but the detector says no person is there
    est = SquareSeer()
    det = FakeDetector([CropBox(250, 150, 200)])
    cfg = LiveConfig(verify_every=2, verify_misses=2, calibration_frames=2)
    pipe = LivePipeline(est, (480, 640), config=cfg, detector=det)
    assert pipe.step(_frame(300, 200), 0.0)[0].tracked
    det.boxes = [CropBox(0, 300, 50)]  # someone elsewhere, not overlapping the followed box
    states = [pipe.step(_frame(300, 200), (i + 1) / 30)[0] for i in range(6)]
    # checks at frames 2 and 3 miss -> dropped at frame 3 and the other candidate is taken
    assert box_overlap(states[-1].box, CropBox(0, 300, 50)) > 0.5


def test_reacquisition_prefers_the_person_followed_before():
    est = SquareSeer()
    near, far = CropBox(250, 150, 200), CropBox(0, 0, 300)  # the far one is larger
    det = FakeDetector([near])
    pipe = LivePipeline(est, (480, 640), config=LiveConfig(calibration_frames=2), detector=det)
    for i in range(3):
        pipe.step(_frame(300, 200), i / 30)
    det.boxes = []
    blank = np.zeros((480, 640, 3), np.uint8)
    assert not pipe.step(blank, 0.2)[0].tracked       # the model loses the person
    det.boxes = [far, near]
    r, _ = pipe.step(_frame(300, 200), 0.3)
    assert r.tracked and box_overlap(r.box, near) > 0.8


def test_person_index_picks_from_the_left_on_first_acquisition():
    est = SquareSeer()
    left, right = CropBox(0, 150, 200), CropBox(250, 150, 200)
    det = FakeDetector([right, left])
    pipe = LivePipeline(est, (480, 640), config=LiveConfig(person=1, calibration_frames=2), detector=det)
    r, _ = pipe.step(_frame(300, 200), 0.0)
    assert r.box == right


def test_box_disagrees_by_size_or_centre():
    from movnect.live import box_disagrees

    det = CropBox(100, 100, 200)
    assert not box_disagrees(det, CropBox(110, 90, 220), 0.25)   # 1.1x, centre 14 px off
    assert box_disagrees(det, CropBox(150, 150, 100), 0.25)      # half the side, same centre
    assert box_disagrees(det, CropBox(160, 100, 200), 0.25)      # centre 60 px = 0.3 side off
    assert box_disagrees(det, CropBox(60, 60, 280), 0.25)        # 1.4x


def test_a_check_reseats_a_box_that_shrank_inside_the_detection():
    est = SquareSeer()
    det = FakeDetector([CropBox(250, 150, 200)])
    cfg = LiveConfig(verify_every=5, calibration_frames=2)
    pipe = LivePipeline(est, (480, 640), config=cfg, detector=det)
    pipe.step(_frame(300, 200), 0.0)
    # the person stepped closer: the detector's box is larger and still holds the followed one
    det.boxes = [CropBox(150, 50, 400)]
    boxes = [pipe.step(_frame(300, 200), (i + 1) / 30)[0].box for i in range(5)]
    assert boxes[-1] == CropBox(150, 50, 400)   # the check at frame 5 re-seated it
    assert all(b.side < 300 for b in boxes[:-1])  # no check before: the tracker's own box
