"""bench/real_footage.py's 2D score on the crops, against hand-computed cases."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import real_footage as rf  # noqa: E402


def _reference() -> np.ndarray:
    ref = np.zeros((17, 2))
    ref[rf.SHARED] = np.stack([np.linspace(28.0, 228.0, len(rf.SHARED)), np.full(len(rf.SHARED), 128.0)], -1)
    return ref  # the shared joints on a 200-px horizontal line: extent 200, threshold 20 px


def _as_model_pixels(uv_crop: np.ndarray, size: int) -> np.ndarray:
    return (uv_crop + 0.5) * (size / rf.CROP) - 0.5


class _Fixed:
    """A stand-in estimator that answers `answer` (17, 2 model px) for every size x size crop."""

    def __init__(self, answer: np.ndarray, size: int) -> None:
        self.answer, self.size = answer, size
        self.codec = type("C", (), {"config": type("K", (), {"input_size": size})()})()

    def __call__(self, crops):
        assert crops.shape == (1, self.size, self.size, 3)
        return type("Out", (), {"joints2d": self.answer[None]})()


def test_crop_pck_counts_joints_within_a_tenth_of_the_extent_at_any_model_size() -> None:
    ref = _reference()
    for size in (160, 256):
        assert rf.crop_pck(_as_model_pixels(ref, size), size, ref) == 1.0
        moved = ref.copy()
        moved[rf.SHARED[:7], 1] += 19.0   # 19 px: inside the 20-px threshold
        moved[rf.SHARED[7:], 1] += 21.0   # 21 px: outside
        expected = 7 / len(rf.SHARED)
        assert abs(rf.crop_pck(_as_model_pixels(moved, size), size, ref) - expected) < 1e-9


def test_crop_pck_ignores_joints_outside_the_shared_set() -> None:
    ref = _reference()
    pred = _as_model_pixels(ref, 160)
    others = [j for j in range(17) if j not in rf.SHARED]
    pred[others] = 1e4
    assert rf.crop_pck(pred, 160, ref) == 1.0


def test_framing_pck_reframes_the_reference_with_each_margin(monkeypatch) -> None:
    """A model that always answers the reference's 2D as framed at margin 0.2 scores 1 at 0.2
    and less at margins whose crops put the person elsewhere: the reference 2D is re-framed."""
    import movnect.demo
    from movnect.camera import image_to_crop
    from movnect.data.h36m import person_box

    uv = np.zeros((17, 2))
    uv[:, 0] = np.linspace(400.0, 600.0, 17)
    uv[:, 1] = np.linspace(300.0, 900.0, 17)
    size = 160
    answer = _as_model_pixels(image_to_crop(uv, person_box(uv, 0.2), rf.CROP), size)

    monkeypatch.setattr(movnect.demo, "load_demo_estimator", lambda name: _Fixed(answer, size))
    ref = {"videos": [[np.zeros((1200, 1000, 3), np.uint8)]]}
    scores = rf.framing_pck("fixed", ref, [{"uv": uv, "view": 0, "t": 0}], [0.2, 0.45])
    assert scores["0.2"] == 1.0 and scores["0.45"] < 0.5


def test_live_starts_spread_over_the_first_quarter() -> None:
    assert rf.live_starts(100, 6) == [0, 4, 8, 12, 17, 21]
    assert rf.live_starts(100, 1) == [0]
    import pytest
    with pytest.raises(ValueError, match="at least one"):
        rf.live_starts(100, 0)


def test_live_over_starts_runs_a_fresh_runner_per_start_and_averages() -> None:
    # one person on every frame; a runner that needs two frames to acquire, then is exact
    ref = _reference()
    frames = [np.zeros((4, 4, 3), np.uint8)] * 10
    people = [[(0, ref)] for _ in frames]

    def make_runner():
        calls = [0]

        def run(frame):
            calls[0] += 1
            return ref if calls[0] > 2 else None
        return run

    out = rf.live_over_starts(frames, people, make_runner, [0, 5])
    # start 0: 10 frames, 8 right -> 0.8; start 5: 5 frames, 3 right -> 0.6
    assert out["pck01_by_start"] == [0.8, 0.6]
    assert out["pck01"] == 0.7 and out["pck01_sd"] == 0.1
    assert out["person_frames"] == 7.5 and out["followed_frames"] == 5.5 and out["box_switches"] == 0


def test_detector_crop_pck_cuts_the_scaled_detection(monkeypatch) -> None:
    """A model that always answers the reference's 2D as it lies in the crop of the raw box
    scores 1 at scale 1 and less when the box is scaled: the crop follows the scaled box."""
    import movnect.demo
    from movnect.camera import CropBox, image_to_crop

    uv = np.zeros((17, 2))
    uv[:, 0] = np.linspace(400.0, 600.0, 17)
    uv[:, 1] = np.linspace(300.0, 900.0, 17)
    raw = CropBox.around((500.0, 600.0), 900.0)
    size = 160
    answer = _as_model_pixels(image_to_crop(uv, raw, rf.CROP), size)

    monkeypatch.setattr(movnect.demo, "load_demo_estimator", lambda name: _Fixed(answer, size))
    items = [{"frame": np.zeros((1200, 1000, 3), np.uint8), "raw_box": raw, "uv": uv}]
    assert rf.detector_crop_pck("fixed", items, 1.0) == 1.0
    # at scale 0.7 about the centre c the answer lands at c + 0.7 (p - c): error 0.3 |p - c| px
    # against 0.1 x the 600-px extent
    dist = np.linalg.norm(uv[rf.SHARED] - np.array(raw.center), axis=-1)
    assert rf.detector_crop_pck("fixed", items, 0.7) == round(float(np.mean(0.3 * dist < 60.0)), 3)


def test_detector_items_pair_each_person_with_the_nearest_detection(monkeypatch) -> None:
    import movnect.blazepose.pose as pose
    from movnect.blazepose.detector import Detection

    uv = np.zeros((17, 2))
    uv[:, 0] = np.linspace(400.0, 600.0, 17)
    uv[:, 1] = np.linspace(300.0, 900.0, 17)   # training box centred at (500, 600), side 840
    near = Detection(np.zeros(4), np.array([[510.0, 620.0], [510.0, 300.0], [0, 0], [0, 0]]), 0.9)
    far = Detection(np.zeros(4), np.array([[900.0, 620.0], [900.0, 300.0], [0, 0], [0, 0]]), 0.9)

    class Finder:
        def __init__(self):
            pass

        def find(self, frame):
            return [far, near]

    monkeypatch.setattr(pose, "PersonFinder", Finder)
    frames = [np.zeros((1200, 1000, 3), np.uint8)] * 3
    outside = uv + np.array([700.0, 0.0])          # partly outside the 1000-px-wide frame: skipped
    items = rf.detector_items(frames, [[(0, uv), (1, outside)]] * 3, step=2)
    assert len(items) == 2                          # frames 0 and 2, one person each
    assert items[0]["raw_box"].center == (510.0, 620.0) and items[0]["raw_box"].side == 800.0
