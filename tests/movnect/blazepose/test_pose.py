"""BlazePose on real footage (Pose2Sim's Demo_MultiPerson, fetched by `make venv`): the two
inference paths agree, detection is translation-equivariant through letterbox and tiles, and
the 3D comes out in our camera axes (checked against a 4-view triangulation)."""
import cv2
import numpy as np
import pytest

from movnect import assets, skeleton
from movnect.blazepose.detector import Roi
from movnect.blazepose.landmarker import PoseLandmarker
from movnect.blazepose.pose import BlazePoseEstimator, PersonFinder, landmarks_to_joints, tiles
from movnect.camera import CropBox, crop_image, crop_to_image
from movnect.data.qualisys import read_qca
from movnect.estimator import load_estimator
from movnect.metrics import similarity_align
from movnect.triangulate import triangulate_robust


def _frame(cam: int, index: int = 40) -> np.ndarray:
    cap = cv2.VideoCapture(str(assets.asset_path(f"multiperson_cam0{cam}")))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, bgr = cap.read()
    cap.release()
    assert ok
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def finder():
    return PersonFinder(threads=1)


def test_tiles_cover_wide_and_tall_frames():
    assert tiles(480, 640) == []
    t = tiles(994, 1768)
    assert t[0] == (0, 0, 994) and t[-1] == (1768 - 994, 0, 994)
    starts = [x for x, _, _ in t]
    assert max(np.diff(starts)) <= 994 * 2 / 3 + 1
    assert tiles(1920, 1088)[-1] == (0, 1920 - 1088, 1088)


def test_people_found_where_they_are_pasted(finder):
    frame = _frame(1)
    dets = finder.find(frame)
    assert len(dets) >= 2
    big = max(dets, key=lambda d: d.roi().side)
    box = CropBox.around(tuple(big.keypoints[0]), big.roi().side)
    patch = crop_image(frame, box, 400)
    for canvas_shape, (x, y) in (((480, 640), (120, 40)), ((500, 1800), (1350, 50))):  # wide: a tile
        canvas = np.zeros(canvas_shape + (3,), np.uint8)
        canvas[y:y + 400, x:x + 400] = patch
        found = finder.find(canvas)
        assert found, canvas_shape
        expected = (big.keypoints[0] - [box.x0, box.y0]) * (400 / box.side) + [x, y]
        best = min(found, key=lambda d: np.linalg.norm(d.keypoints[0] - expected))
        assert np.linalg.norm(best.keypoints[0] - expected) < 15.0, canvas_shape


def test_crop_estimator_agrees_with_the_region_path(finder):
    frame = _frame(2)
    det = max(finder.find(frame), key=lambda d: d.roi().side)
    side = det.roi().side
    box = CropBox.around(tuple(det.keypoints[0]), side)
    est = BlazePoseEstimator("lite", threads=1)
    pred = est(crop_image(frame, box, 256)[None])
    via_crop = crop_to_image(pred.joints2d[0].astype(np.float64), box, 256)
    # the same pixels: crop pixel p <-> x0 + p side / 256, so the Roi centre (crop pixel 127.5)
    c = 127.5 * side / 256
    lm = PoseLandmarker(str(assets.asset_path("pose_landmark_lite")), 1).run(
        frame, [Roi(box.x0 + c, box.y0 + c, side)])[0]
    j2, conf, j3 = landmarks_to_joints(lm)
    assert np.abs(via_crop - j2).max() < 0.5
    assert np.allclose(pred.confidence[0], conf, atol=1e-3)
    assert np.abs(pred.joints3d[0] - j3).max() < 1.0
    assert load_estimator("blazepose-lite").name == "blazepose-lite"


def test_world_landmarks_are_in_camera_axes(finder):
    views = read_qca(assets.asset_path("multiperson_calib"))
    heavy = PoseLandmarker(str(assets.asset_path("pose_landmark_heavy")), 2)
    frames = [_frame(c) for c in (1, 2, 3, 4)]
    people = []
    for f in frames:
        dets = finder.find(f)
        people.append([landmarks_to_joints(lm) for lm in heavy.run(f, [d.roi() for d in dets])])
    # the largest person in view 1, matched in other views by triangulation error
    ref = max(people[0], key=lambda p: np.ptp(p[0][:, 1]))
    best = None
    for j in range(len(people[1])):
        for k in range(len(people[2])):
            uv = np.stack([ref[0], people[1][j][0], people[2][k][0]])
            w = np.stack([ref[1], people[1][j][1], people[2][k][1]]) > 0.5
            pts, used = triangulate_robust(views[:3], uv, w.astype(float), max_error_px=40.0)
            n = np.isfinite(pts).all(-1).sum()
            if best is None or n > best[0]:
                best = (n, pts)
    assert best[0] >= 12
    pts = best[1]
    ok = np.isfinite(pts).all(-1)
    gt = views[0].to_camera(pts[ok])
    pred = ref[2][ok]
    # rotation of the similarity alignment pred -> gt: near identity if axes agree
    aligned = similarity_align(pred[None], gt[None])[0]
    pc, gc = pred - pred.mean(0), aligned - aligned.mean(0)
    u, _, vt = np.linalg.svd(pc.T @ gc)
    rot = (u @ vt).T
    angle = np.degrees(np.arccos(np.clip((np.trace(rot) - 1) / 2, -1, 1)))
    assert angle < 35.0, angle
    head, feet = skeleton.JOINT_NAMES.index("head"), [3, 6]
    assert ref[2][head, 1] < ref[2][feet, 1].min()  # y down


def test_person_box_is_the_raw_region_scaled_to_the_training_framing() -> None:
    """Hand-built detection: mid-hip (300, 400), body-circle point 100 px above it, so
    MediaPipe's region has side 2 x 100 x 1.25 = 250 px around the mid-hip."""
    from movnect.blazepose import pose
    from movnect.blazepose.detector import Detection

    kp = np.array([[300.0, 400.0], [300.0, 300.0], [300.0, 250.0], [300.0, 200.0]])
    det = Detection(np.array([200.0, 150.0, 400.0, 650.0]), kp, 0.9)
    raw = pose.raw_person_box(det)
    assert raw.side == pytest.approx(250.0) and raw.center == pytest.approx((300.0, 400.0))
    box = pose.person_box(det)
    assert box.center == pytest.approx(raw.center)
    assert box.side == pytest.approx(250.0 * pose.DETECTOR_BOX_SCALE)
    assert 0.8 < pose.DETECTOR_BOX_SCALE < 1.0
