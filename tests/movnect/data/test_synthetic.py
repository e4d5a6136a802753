"""The synthetic release (layout, determinism, plausible motion, rendering) and its COCO-format set."""
import json

import cdflib
import cv2
import h5py
import numpy as np
import pytest

from movnect import camera as cam
from movnect import cli, skeleton
from movnect.data.h36m_release import CAMERA_OVERRIDE, read_poses
from movnect.data.synthetic import release as syn
from movnect.data.synthetic.body import generate_motion
from movnect.data.synthetic.coco import CocoSynthConfig, coco_keypoints, write_coco
from movnect.data.synthetic.motion import CaptureRegion, sample_shape
from movnect.skeleton import COCO_KEYPOINTS

SMALL = syn.SynthConfig(subjects=("S5",), actions=("Greeting",), subactions=1, frames=6, cameras=("60457274",),
                        image_size=192, seed=7)


def first_frame(path):
    cap = cv2.VideoCapture(str(path))
    ok, img = cap.read()
    cap.release()
    assert ok
    return img


def pose_data(path):
    return np.asarray(cdflib.CDF(str(path)).varget("Pose"))


def test_file_action_names_are_the_official_release_names():
    assert syn.file_action_name("S1", "Photo", 0) == "TakingPhoto 1"
    assert syn.file_action_name("S1", "WalkDog", 1) == "WalkingDog"
    assert syn.file_action_name("S1", "Directions", 0) == "Directions 1"
    assert syn.file_action_name("S1", "Directions", 1) == "Directions"
    assert syn.file_action_name("S6", "Photo", 0) == "Photo"
    assert syn.file_action_name("S11", "Phoning", 0) == "Phoning 3"
    assert syn.file_action_name("S11", "WalkDog", 1) == "WalkDog"
    assert syn.file_action_name("S5", "Discussion", 2) == "Discussion 1"  # a third take: first free name
    assert syn.file_action_name("S1", "Walking", 2) == "Walking 2"


def test_scaled_intrinsics_hand_computed():
    i = cam.Intrinsics((1000.0, 1002.0), (499.5, 500.0), (0.1, 0.0, 0.0), (0.0, 0.0), 1000, 1002)
    s = syn.scaled_intrinsics(i, 500)
    assert s.focal == (500.0, 501.0) and s.center == (249.5, 249.75) and (s.width, s.height) == (500, 500)  # 501 rounded to even
    assert s.radial == i.radial  # distortion acts on normalised coordinates: unchanged
    # the same ray lands on the same relative image position
    p = np.array([300.0, -200.0, 4000.0])
    np.testing.assert_allclose((cam.project(p, s) + 0.5) / 500, (cam.project(p, i) + 0.5) / 1000, atol=1e-12)


def test_config_validation_messages():
    with pytest.raises(ValueError, match="subjects must be among"):
        syn.SynthConfig(subjects=("S2",))
    with pytest.raises(ValueError, match=r"unknown action\(s\) \['Dancing'\]"):
        syn.SynthConfig(actions=("Dancing",))
    with pytest.raises(ValueError, match="image_size must be even"):
        syn.SynthConfig(image_size=301)
    with pytest.raises(ValueError, match=r"unknown camera\(s\)"):
        syn.SynthConfig(cameras=("123",))


def test_release_is_deterministic_for_a_seed(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    syn.write_release(a, SMALL)
    syn.write_release(b, SMALL)
    syn.write_release(c, syn.SynthConfig(**{**SMALL.__dict__, "seed": 8}))
    cdf, video = "S5/MyPoseFeatures/D3_Positions/Greeting 1.cdf", "S5/Videos/Greeting 1.60457274.mp4"
    assert pose_data(a / cdf).tobytes() == pose_data(b / cdf).tobytes()
    np.testing.assert_array_equal(first_frame(a / video), first_frame(b / video))
    assert (a / CAMERA_OVERRIDE).read_text() == (b / CAMERA_OVERRIDE).read_text()
    assert pose_data(a / cdf).tobytes() != pose_data(c / cdf).tobytes()
    assert not np.array_equal(first_frame(a / video), first_frame(c / video))


TWO_TAKES = syn.SynthConfig(subjects=("S5",), actions=("Greeting", "Walking"), subactions=1, frames=4,
                            cameras=("60457274", "55011271"), image_size=128, seed=3)


def test_interrupted_release_resumes_per_take_and_equals_an_uninterrupted_one(tmp_path):
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    syn.write_release(whole, TWO_TAKES)

    def stop_in_second_take(name, done, total):
        if done == 3:  # the first take (2 videos) is finished, the second one half written
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        syn.write_release(resumed, TWO_TAKES, stop_in_second_take)
    state = json.loads((resumed / syn.PROGRESS_FILE).read_text())
    assert state["takes"] == ["S5/Greeting 1"]
    assert not (resumed / "S5/Videos/Walking 1.55011271.mp4").exists()  # never half a video in place
    summary = syn.write_release(resumed, TWO_TAKES)
    assert summary["reused_takes"] == 1 and summary["frames"] == 2 * 4  # only the second take rendered
    assert not (resumed / syn.PARTIAL_DIR).exists()
    files = sorted(p.relative_to(whole).as_posix() for p in whole.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(resumed).as_posix() for p in resumed.rglob("*") if p.is_file())
    for rel in files:
        if rel.endswith(".cdf"):
            assert pose_data(whole / rel).tobytes() == pose_data(resumed / rel).tobytes(), rel
        elif rel.endswith(".mp4"):
            np.testing.assert_array_equal(first_frame(whole / rel), first_frame(resumed / rel))
    again = syn.write_release(resumed, TWO_TAKES)  # everything recorded: nothing rendered
    assert again["reused_takes"] == 2 and again["frames"] == 0


def test_release_folder_written_with_other_settings_is_refused(tmp_path):
    syn.write_release(tmp_path, TWO_TAKES)
    before = (tmp_path / "S5/MyPoseFeatures/D3_Positions/Greeting 1.cdf").read_bytes()
    other = syn.SynthConfig(**{**TWO_TAKES.__dict__, "seed": 4})
    with pytest.raises(ValueError, match="holds a release written with other settings"):
        syn.write_release(tmp_path, other)
    assert (tmp_path / "S5/MyPoseFeatures/D3_Positions/Greeting 1.cdf").read_bytes() == before
    (tmp_path / syn.PROGRESS_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="unreadable"):
        syn.write_release(tmp_path, TWO_TAKES)


def test_release_layout_pose_file_and_camera_override(tmp_path):
    syn.write_release(tmp_path, SMALL)
    poses = read_poses(tmp_path / "S5/MyPoseFeatures/D3_Positions/Greeting 1.cdf")
    assert poses.shape == (6, 32, 3) and pose_data(tmp_path / "S5/MyPoseFeatures/D3_Positions/Greeting 1.cdf").shape == (1, 6, 96)
    facts = json.loads((tmp_path / CAMERA_OVERRIDE).read_text())
    i = facts["intrinsics"]["60457274"]
    real = cam.h36m_camera("S5", "60457274")
    assert (i["res_w"], i["res_h"]) == (192, 192) and i["focal_length"][0] == pytest.approx(real.intrinsics.focal[0] * 0.192)
    assert facts["extrinsics"]["S5"]["60457274"]["translation"] == list(real.extrinsics.translation)
    cap = cv2.VideoCapture(str(tmp_path / "S5/Videos/Greeting 1.60457274.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6 and cap.get(cv2.CAP_PROP_FPS) == pytest.approx(50.0)
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (192, 192)


def test_person_is_drawn_where_the_joints_project(tmp_path):
    syn.write_release(tmp_path, SMALL)
    frame = first_frame(tmp_path / "S5/Videos/Greeting 1.60457274.mp4").astype(np.int16)
    subject = syn._Subject("S5", SMALL)
    camera = subject.cameras[0]
    bg = subject.background(camera).astype(np.int16)
    changed = (np.abs(frame - bg).max(axis=2) > 40).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(changed)  # the person: the largest blob
    ys, xs = np.nonzero(labels == 1 + np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    assert len(xs) > 300  # video compression speckle elsewhere is far smaller
    poses = read_poses(tmp_path / "S5/MyPoseFeatures/D3_Positions/Greeting 1.cdf")
    uv = cam.project(cam.world_to_camera(skeleton.from_h36m32(poses[0]), camera.extrinsics), camera.intrinsics)
    pad = 6  # limbs have thickness, the head reaches above the head joint
    assert xs.min() >= uv[:, 0].min() - 4 * pad and xs.max() <= uv[:, 0].max() + 4 * pad
    assert ys.min() >= uv[:, 1].min() - 4 * pad and ys.max() <= uv[:, 1].max() + 4 * pad
    for u, v in uv[[0, 8, 2, 5]].round().astype(int):  # pelvis, thorax, knees are covered by the body
        assert changed[max(v - 2, 0):v + 3, max(u - 2, 0):u + 3].any()


def test_motion_is_a_rigid_smooth_skeleton_on_the_floor():
    rng = np.random.default_rng(0)
    shape = sample_shape(rng)
    region = CaptureRegion([cam.h36m_camera("S1", c) for c in cam.h36m_camera_ids()])
    for action in ("Walking", "SittingDown", "Greeting"):
        m = generate_motion(action, shape, region, 150, np.random.default_rng(1))
        j17 = skeleton.from_h36m32(m.joints)
        bones = skeleton.bone_lengths(j17)
        assert np.ptp(bones, axis=0).max() < 1e-6  # rigid
        speed = np.linalg.norm(np.diff(m.joints, axis=0), axis=-1).max() * 50 / 1000
        assert speed < 8.0  # m/s: no teleporting joints at 50 fps
        assert m.joints[..., 2].min() > -1.0 and (m.joints[:, 0, 2] > 350).all()  # nothing below the floor
        assert np.median(m.joints[:, [4, 5, 9, 10], 2].min(axis=1)) < 60.0  # feet on (or just above) it
        head_above_feet = j17[:, 10, 2] - j17[:, [3, 6], 2].max(axis=1)
        assert (head_above_feet > 600).all()
        for c in region.cameras:  # inside every camera's view
            uv = cam.project(cam.world_to_camera(j17, c.extrinsics), c.intrinsics)
            assert (uv > 0).all() and (uv[..., 0] < c.intrinsics.width).all() and (uv[..., 1] < c.intrinsics.height).all()


def test_coco_keypoints_are_the_projected_skeleton_with_coco_visibility():
    rng = np.random.default_rng(2)
    shape = sample_shape(rng)
    region = CaptureRegion([cam.h36m_camera("S6", c) for c in cam.h36m_camera_ids()])
    m = generate_motion("Walking", shape, region, 60, np.random.default_rng(3))
    camera = syn.synth_cameras("S6", ("55011271",), 400)[0]
    facing_seen = set()
    for frame in range(0, 60, 5):
        kp = coco_keypoints(m, frame, shape, camera)
        j = cam.project(cam.world_to_camera(m.joints[frame], camera.extrinsics), camera.intrinsics)
        names = list(COCO_KEYPOINTS)
        for name, idx in (("left_wrist", 19), ("right_knee", 2), ("left_hip", 6), ("right_shoulder", 25)):
            np.testing.assert_allclose(kp[names.index(name), :2], j[idx], atol=1e-9)
            assert kp[names.index(name), 2] == 2
        nose_v = kp[0, 2]
        assert kp[1, 2] == kp[2, 2] == nose_v and nose_v in (0, 2)  # eyes and nose drawn together
        facing_seen.add(nose_v)
        if nose_v == 0:
            assert (kp[:3, :2] == 0).all()
        assert set(kp[3:5, 2]) <= {1, 2}
        head = cam.project(cam.world_to_camera(m.joints[frame, 15], camera.extrinsics), camera.intrinsics)
        assert np.linalg.norm(kp[3:5, :2] - head, axis=1).max() < 40  # ears next to the head
    assert facing_seen == {0, 2}  # the walker turns: seen from the front and the back


def test_coco_set_is_valid_and_deterministic(tiny_coco, tmp_path):
    doc = json.loads((tiny_coco / "annotations/person_keypoints.json").read_text())
    assert doc["categories"][0]["keypoints"] == list(COCO_KEYPOINTS) and len(doc["images"]) == 4
    assert len(doc["annotations"]) > 4  # some images hold two people
    ids = {im["id"]: im for im in doc["images"]}
    for a in doc["annotations"]:
        kp = np.array(a["keypoints"]).reshape(17, 3)
        x, y, w, h = a["bbox"]
        vis = kp[:, 2] > 0
        assert a["num_keypoints"] == vis.sum() and a["iscrowd"] == 0 and 0 < a["area"] <= w * h
        assert (kp[vis, 0] >= x - 1).all() and (kp[vis, 0] <= x + w).all()
        assert (kp[vis, 1] >= y - 1).all() and (kp[vis, 1] <= y + h).all()
        img = ids[a["image_id"]]
        assert cv2.imread(str(tiny_coco / "images" / img["file_name"])).shape == (img["height"], img["width"], 3)
    again = tmp_path / "again"
    write_coco(again, CocoSynthConfig(images=2, image_size=256, second_person_prob=0.5, seed=11))
    doc2 = json.loads((again / "annotations/person_keypoints.json").read_text())
    assert doc2["annotations"] == [a for a in doc["annotations"] if a["image_id"] <= 2]
    np.testing.assert_array_equal(cv2.imread(str(again / "images/000000000002.jpg")),
                                  cv2.imread(str(tiny_coco / "images/000000000002.jpg")))


def test_cli_synth_then_prepare_end_to_end(tmp_path, capsys):
    out = tmp_path / "rel"
    code = cli.main(["synth", "--out", str(out), "--subjects", "S1,S11", "--actions", "Walking", "--subactions", "1",
                     "--frames", "4", "--cameras", "54138969", "--image-size", "128", "--seed", "2", "--coco", "2",
                     "--coco-size", "128", "--no-progress"])
    text, err = capsys.readouterr()
    assert code == 0, err
    assert "wrote 2 videos (8 frames)" in text and "not Human3.6M" in text and "wrote 2 images" in text
    assert (out / "S11/Videos/Walking 1.54138969.mp4").is_file() and (out / "coco/images/000000000002.jpg").is_file()
    code = cli.main(["prepare-h36m", "--root", str(out), "--out", str(tmp_path / "rel.h5"), "--frame-step", "1",
                     "--crop-size", "64", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["rows"] == 8 and doc["converted"] == 2
    with h5py.File(tmp_path / "rel.h5", "r") as f:
        assert [s.decode() for s in f["names/subjects"][...]] == ["S1", "S11"]


def test_cli_synth_bad_input_is_one_line(tmp_path, capsys):
    code = cli.main(["synth", "--out", str(tmp_path), "--actions", "Dancing", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("movnect: error: unknown action(s) ['Dancing']") and err.count("\n") == 1
    code = cli.main(["synth", "--out", str(tmp_path), "--no-release"])
    assert code == 2 and "--no-release needs --coco" in capsys.readouterr().err
