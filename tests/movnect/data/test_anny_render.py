"""One rendered sequence: rows, frame steps, joints in view, crops, determinism."""
import cv2
import pytest
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


def _camera_inside_the_person(real, draws_to_spoil):
    """A sample_camera that puts the first `draws_to_spoil` cameras on the pelvis (every joint
    within 30 cm or behind), then samples normally."""
    calls = {"n": 0}

    def fake(rng, kind, person, facing, stature):
        cam = real(rng, kind, person, facing, stature)
        calls["n"] += 1
        if calls["n"] <= draws_to_spoil:
            from movnect.camera import Camera, Extrinsics

            e = cam.extrinsics
            cam = Camera(cam.name, cam.intrinsics, Extrinsics(e.orientation, tuple(float(v) * 1000 for v in person)))
        return cam

    return fake, calls


def test_a_sequence_no_camera_sees_is_redrawn(anny_renderer, monkeypatch):
    """A motion that leaves no camera with every joint in front (it crashed a 32k-row render) is
    re-drawn from the next attempt's generator instead of failing the whole render."""
    fake, calls = _camera_inside_the_person(R.sample_camera, 30)
    monkeypatch.setattr(R, "sample_camera", fake)
    out = anny_renderer.render(7, 0)
    assert calls["n"] > 30                          # attempt 0 used all 30 draws, attempt 1 ran
    assert np.all(out["joints3d"][..., 2] > 300)
    monkeypatch.undo()
    direct = anny_renderer.render(7, 0)             # attempt 0 unchanged: same rows as before the fix
    assert not np.array_equal(direct["joints3d"], out["joints3d"])


def test_a_sequence_that_never_gets_a_camera_names_itself(anny_renderer, monkeypatch):
    fake, _ = _camera_inside_the_person(R.sample_camera, 10 ** 6)
    monkeypatch.setattr(R, "sample_camera", fake)
    with pytest.raises(RuntimeError, match="sequence 4 of seed 7: no camera"):
        anny_renderer.render(7, 4)
