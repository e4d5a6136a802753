"""One rendered sequence: rows, frame steps, joints in view, crops, determinism."""
import cv2
import numpy as np

from movnect.camera import CropBox, Intrinsics, image_to_crop, project
from movnect.data.anny import render as R


def test_sequence_rows_and_labels(anny_renderer):
    for index in range(3):
        out = anny_renderer.render(7, index)
        m = out["meta"]
        k = anny_renderer.opts.frames
        assert len(out["jpeg"]) == k and out["joints3d"].shape == (k, 17, 3) and out["joints2d"].shape == (k, 17, 2)
        assert m["subject"] in R.SUBJECTS
        step = R.STEP_TEST if m["subject"] in R.TEST_SUBJECTS else R.STEP_TRAIN
        assert np.all(out["frame"] % step == 0) and np.all(np.diff(out["frame"]) == step)
        assert out["in_frame"].sum(axis=1).min() >= R.MIN_JOINTS_IN_FRAME
        assert np.all(out["joints3d"][..., 2] > 300)
        img = cv2.imdecode(out["jpeg"][0], cv2.IMREAD_COLOR)
        assert img.shape == (64, 64, 3)
        # the projected pelvis sits on the rendered person: not on a black border pixel
        i = out["intrinsics"][0]
        uv = project(out["joints3d"][0].astype(float), Intrinsics((i[0], i[1]), (i[2], i[3])))
        np.testing.assert_allclose(uv, out["joints2d"][0], atol=1e-2)
        c = image_to_crop(uv, CropBox(*out["crop_box"][0].astype(float)), 64)
        inside = (c >= 0).all(axis=1) & (c < 64).all(axis=1) & out["in_frame"][0].astype(bool)
        assert inside.sum() >= R.MIN_JOINTS_IN_FRAME - 2


def test_same_seed_same_sequence(anny_renderer):
    a, b = anny_renderer.render(3, 5), anny_renderer.render(3, 5)
    np.testing.assert_array_equal(a["joints3d"], b["joints3d"])
    assert all(x.tobytes() == y.tobytes() for x, y in zip(a["jpeg"], b["jpeg"]))
    c = anny_renderer.render(4, 5)
    assert not np.array_equal(a["joints3d"], c["joints3d"])


def test_a_second_person_is_drawn_but_not_labelled(anny_renderer, monkeypatch):
    monkeypatch.setattr(R, "SECOND_PERSON_P", 1.0)
    outs = [anny_renderer.render(9, i) for i in range(3)]
    assert any(o["meta"]["second_person"] for o in outs)
    for o in outs:
        assert o["joints3d"].shape == (anny_renderer.opts.frames, 17, 3)   # one labelled person per row
