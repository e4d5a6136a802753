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
