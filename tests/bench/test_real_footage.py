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

    class Fixed:
        codec = type("C", (), {"config": type("K", (), {"input_size": size})()})()

        def __call__(self, crops):
            assert crops.shape == (1, size, size, 3)
            return type("Out", (), {"joints2d": answer[None]})()

    monkeypatch.setattr(movnect.demo, "load_demo_estimator", lambda name: Fixed())
    ref = {"videos": [[np.zeros((1200, 1000, 3), np.uint8)]]}
    scores = rf.framing_pck("fixed", ref, [{"uv": uv, "view": 0, "t": 0}], [0.2, 0.45])
    assert scores["0.2"] == 1.0 and scores["0.45"] < 0.5
