"""Retargeting the generator's motions onto Anny: mapping, rest corrections, floor contact, smoothness."""
import numpy as np
import pytest

from movnect import skeleton
from movnect.data.anny.body import Phenotype
from movnect.data.anny.joints import JointRegressor
from movnect.data.anny.motion import (
    MOTIONS, _align, bone_segment, motion_tracks, open_region, perform, random_tracks, rest_corrections,
)
from movnect.data.synthetic.motion import LIMITS_DEG

J = {n: i for i, n in enumerate(skeleton.JOINT_NAMES)}


def test_align_takes_a_to_b_and_is_a_rotation():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.normal(size=3), rng.normal(size=3)
        r = _align(a, b)
        np.testing.assert_allclose(r @ (a / np.linalg.norm(a)), b / np.linalg.norm(b), atol=1e-9)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-9)
        assert np.linalg.det(r) == pytest.approx(1.0)


def test_every_anny_bone_follows_a_segment(anny_body):
    segs = {bone_segment(b) for b in anny_body.bone_labels}
    assert segs == {"pelvis", "lower", "upper", "head"} | {f"{s}_{x}" for s in
                                                           ("thigh", "shank", "foot", "upper_arm", "forearm", "hand")
                                                           for x in "lr"}
    with pytest.raises(ValueError, match="no segment"):
        bone_segment("tail")


def test_zero_angles_stand_straight_with_arms_down_and_feet_on_the_floor(anny_body):
    p = Phenotype(0.0, 0.7, 0.5, 0.5, 0.5, 0.5)
    rest = anny_body.rest(p)
    fix = rest_corrections(anny_body.bone_labels, rest["heads"])
    b = anny_body.bone
    d = rest["heads"][b("lowerarm01.L")] - rest["heads"][b("upperarm01.L")]
    np.testing.assert_allclose(fix[b("upperarm01.L")] @ d / np.linalg.norm(d), [0, 0, -1], atol=1e-9)
    n = 3
    tracks = {k: np.zeros(n) for k in random_tracks(np.random.default_rng(0), n)}
    tracks["yaw"] = np.full(n, 0.7)
    perf = perform(anny_body, p, tracks, np.arange(n))
    reg = JointRegressor(anny_body.bone_labels, anny_body.vertex_bone, rest["vertices"])
    j = reg(perf.heads, perf.vertices)[0]
    assert perf.vertices[0, :, 2].min() == pytest.approx(0.0, abs=1e-9)
    for side in ("left", "right"):
        arm = j[J[f"{side}_wrist"]] - j[J[f"{side}_shoulder"]]
        assert arm[2] < -0.95 * np.linalg.norm(arm)         # hanging straight down
        leg = j[J[f"{side}_foot"]] - j[J[f"{side}_hip"]]
        assert leg[2] < -0.97 * np.linalg.norm(leg)
    # facing yaw 0.7: the nose is in front of the neck along (cos, sin) of the yaw
    fwd = np.array([np.cos(0.7), np.sin(0.7), 0.0])
    assert (perf.vertices[0, reg.nose_tip] - j[J["thorax"]]) @ fwd > 0.05
    # left is to the person's left: forward x left = up
    left = j[J["left_hip"]] - j[J["right_hip"]]
    assert np.cross(fwd, left)[2] > 0


def test_motions_are_smooth_and_inside_limits(anny_body):
    rng = np.random.default_rng(1)
    p = Phenotype(1.0, 0.8, 0.5, 0.5, 0.5, 0.5)
    reg = JointRegressor(anny_body.bone_labels, anny_body.vertex_bone, anny_body.rest(p)["vertices"])
    for motion in ("Walking", "SittingDown", "Random"):
        tracks = motion_tracks(rng, motion, 60, open_region())
        for key, v in tracks.items():
            base = key[:-2] if key[-2:] in ("_l", "_r") else key
            if base in LIMITS_DEG:
                lo, hi = np.radians(LIMITS_DEG[base])
                assert v.min() >= lo - 1e-9 and v.max() <= hi + 1e-9, key
        perf = perform(anny_body, p, tracks, np.arange(0, 60, 2))
        j = reg(perf.heads, perf.vertices)
        step = np.linalg.norm(np.diff(j, axis=0), axis=-1)  # 40 ms apart
        assert step.max() < 0.25, (motion, step.max())       # < 6 m/s for any joint
        assert np.abs(perf.vertices[..., 2].min(axis=1)).max() < 1e-9


def test_sitting_gets_a_seat_under_the_hips(anny_body):
    p = Phenotype(0.0, 0.7, 0.5, 0.5, 0.5, 0.5)
    tracks = motion_tracks(np.random.default_rng(2), "Sitting", 20)
    perf = perform(anny_body, p, tracks, np.arange(0, 20, 5))
    assert perf.seat is not None
    x, y, top, _ = perf.seat
    assert 0.3 < top < 0.7
    assert np.hypot(x - perf.heads[0, 0, 0], y - perf.heads[0, 0, 1]) < 0.3


def test_unknown_motion_message():
    with pytest.raises(ValueError, match="unknown motion 'Flying'"):
        motion_tracks(np.random.default_rng(0), "Flying", 5)
    assert MOTIONS[-1] == "Random" and len(MOTIONS) == 16
