"""BlazePose on rendered Anny people with known 3D: the landmark mapping and the axis
convention of its world landmarks (camera axes, mm, pelvis-relative) against the truth, and a
real-image model seeing the renders as people."""
import cv2
import h5py
import numpy as np

from movnect import skeleton
from movnect.blazepose.pose import BlazePoseEstimator
from movnect.data.anny.writer import SynthOptions, synthesize
from movnect.metrics import pa_mpjpe_errors


def test_blazepose_on_renders_matches_the_truth_in_our_axes(tmp_path, anny_renderer):
    out = tmp_path / "r.h5"
    synthesize(out, SynthOptions(rows=12, seed=11, crop_size=256, frames=4))
    with h5py.File(out, "r") as f:
        crops = np.stack([cv2.cvtColor(cv2.imdecode(np.asarray(j), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
                          for j in f["images"][...]])
        gt = skeleton.root_relative(f["joints3d"][...].astype(np.float64))
        box = f["crop_box"][...].astype(np.float64)
        uv = (f["joints2d"][...] - box[:, None, :2]) * 256 / box[:, None, 2:3]
    pred = BlazePoseEstimator("lite", threads=1)(crops)
    seen = pred.confidence.mean(1) > 0.5
    assert seen.sum() >= 8, seen  # a real-image model takes most renders for people
    shared = list(skeleton.BLAZEPOSE_SHARED)
    p, g = pred.joints3d[seen][:, shared].astype(np.float64), gt[seen][:, shared]
    assert pa_mpjpe_errors(p, g).mean() < 150.0
    # no alignment at all: the same axes and unit (a flipped or swapped axis gives > 300 mm)
    assert np.linalg.norm(p - g, axis=-1).mean() < 200.0
    assert np.median(np.linalg.norm(pred.joints2d[seen][:, shared] - uv[seen][:, shared], axis=-1)) < 20.0


def test_head_and_neck_definitions_agree_with_blazepose_on_renders(tmp_path, anny_renderer):
    """BlazePose's derived head and neck (skeleton.BLAZEPOSE_TO_17: head one eye-to-mouth step
    above the ears, neck half-way from mid-shoulders to the nose) and the renderer's (on the
    neck chain and the skull-to-crown segment, calibrated to Human3.6M's mean bones:
    movnect/data/anny/joints.py) are two independent routes to Human3.6M's joints. Measured
    in the image plane (BlazePose's 2D is accurate, its depth on renders is not), relative to
    the thorax, in mm at the thorax's depth (x right, y down; BlazePose minus render), seed 11:
    with the former definitions (nose-level neck, crown) neck (-3, +54), head (-1, +53): both
    5 cm below the renderer's; now neck (+37, +35), head (+33, -32). What remains is in part the
    thoraxes' difference (BlazePose's is mid-shoulders, the glenohumeral level, ~2 % of stature
    below the sternum top where Human3.6M's and the renderer's sit) and side views (BlazePose's
    neck leans to the nose, the renderer's is in the neck)."""
    out = tmp_path / "r.h5"
    synthesize(out, SynthOptions(rows=12, seed=11, crop_size=256, frames=4))
    with h5py.File(out, "r") as f:
        crops = np.stack([cv2.cvtColor(cv2.imdecode(np.asarray(j), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
                          for j in f["images"][...]])
        j3 = f["joints3d"][...].astype(np.float64)
        box = f["crop_box"][...].astype(np.float64)
        uv = (f["joints2d"][...] - box[:, None, :2]) * 256 / box[:, None, 2:3]
        fx = f["intrinsics"][:, 0].astype(np.float64)
    pred = BlazePoseEstimator("lite", threads=1)(crops)
    seen = pred.confidence.mean(1) > 0.5
    assert seen.sum() >= 8, seen
    mm_per_px = (box[:, 2] / 256 * j3[:, 8, 2] / fx)[seen, None]  # crop px -> mm at the thorax
    p, g = pred.joints2d[seen].astype(np.float64), uv[seen]
    offsets = {}
    for name, j in (("neck_base", 9), ("head", 10)):
        d = ((p[:, j] - p[:, 8]) - (g[:, j] - g[:, 8])) * mm_per_px  # BlazePose - render, mm
        offsets[name] = d.mean(0)
    # vertically within 4.5 cm (was 5.4 and 5.3), and no direction off by more than 6 cm
    assert abs(offsets["neck_base"][1]) < 45.0 and abs(offsets["head"][1]) < 45.0, offsets
    assert max(np.linalg.norm(v) for v in offsets.values()) < 60.0, offsets
