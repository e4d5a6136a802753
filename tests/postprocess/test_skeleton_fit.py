"""Skeleton fitting: exact recovery, the acceptance figures on noisy synthetic sequences
(jitter, MPJPE, constant bones, translation), robustness to missing joints and bad input."""
from __future__ import annotations

import numpy as np
import pytest

from movnect.camera import Intrinsics, project
from movnect.rotations import cross
from movnect.skeleton import bone_lengths
from postprocess.kinematics import forward_kinematics
from postprocess.one_euro import VNECT_2D, VNECT_3D, OneEuroFilter, vnect_scale_2d, vnect_scale_3d
from postprocess.skeleton_fit import FitConfig, SkeletonFitter, estimate_bone_lengths, fit_sequence
from tests.postprocess.synthetic import CAMERA, SKELETON, accel_error, make_sequence, mpjpe


def personalise(seq, frames=60):
    """Bone lengths from the filtered 3D of the first frames (raw noise inflates lengths)."""
    f3 = OneEuroFilter(VNECT_3D)
    x = np.stack([f3(x, t, scale=100.0, valid=c >= 0.1) for x, t, c in
                  zip(seq["x"][:frames], seq["t"][:frames], seq["conf"][:frames])])
    return estimate_bone_lengths(x, seq["conf"][:frames])


def run_chain(seq, skeleton, config=FitConfig()):
    """1-Euro (2D, 3D) -> fit, as in the product; returns fitted joints and results."""
    f2, f3 = OneEuroFilter(VNECT_2D), OneEuroFilter(VNECT_3D)
    fitter = SkeletonFitter(skeleton, CAMERA, config)
    results = []
    for t, k, x, c in zip(seq["t"], seq["k"], seq["x"], seq["conf"]):
        k = f2(k, t, scale=vnect_scale_2d(600.0), valid=c >= 0.1)
        x = f3(x, t, scale=vnect_scale_3d(skeleton.knee_neck_length), valid=c >= 0.1)
        results.append(fitter.fit(k, x, c, t))
    return np.stack([r.joints for r in results]), results


def test_exact_data_is_recovered():
    seq = make_sequence(40, seed=1)
    fitter = SkeletonFitter(SKELETON, CAMERA, FitConfig(w_smooth=0.0, w_depth=0.0, iterations=6))
    for i in range(40):
        res = fitter.fit(seq["k"][i], seq["x"][i], None, seq["t"][i])
        assert np.abs(res.joints - seq["gt"][i]).max() < (1e-6 if i == 0 else 1e-3)
        assert res.reprojection_error_px < 1e-3 and not res.held
        pos, _ = forward_kinematics(SKELETON.offsets, res.root_position, res.local_rotations)
        np.testing.assert_allclose(pos, res.joints, atol=1e-6)          # rotations reproduce joints
        q = res.local_quaternions()
        np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-12)


def test_acceptance_noisy_sequence_with_dropped_joints():
    seq = make_sequence(300, seed=2, noise2d=3.0, noise3d=25.0, drop=0.05)
    skeleton = personalise(seq)
    fitted, results = run_chain(seq, skeleton)
    raw = seq["x"] + seq["gt"][:, :1]
    acc_raw, acc_fit = accel_error(raw, seq["gt"]), accel_error(fitted, seq["gt"])
    assert acc_fit <= 0.5 * acc_raw, (acc_raw, acc_fit)                  # >= 50 % less jitter
    assert mpjpe(fitted, seq["gt"]) <= mpjpe(raw, seq["gt"]), (mpjpe(raw, seq["gt"]), mpjpe(fitted, seq["gt"]))
    lengths = bone_lengths(fitted)
    assert np.ptp(lengths, axis=0).max() < 1e-6                          # constant bones, mm
    np.testing.assert_allclose(lengths[0], skeleton.bone_lengths, atol=1e-6)
    reproj = np.array([r.reprojection_error_px for r in results])
    assert np.all(np.isfinite(reproj)) and np.median(reproj) < 3.0      # noise is 3 px per axis


def test_translation_recovered_from_exact_2d():
    seq = make_sequence(150, seed=3, noise2d=0.0, noise3d=25.0)
    fitted, _ = run_chain(seq, personalise(seq))
    rel_err = np.linalg.norm(fitted[:, 0] - seq["gt"][:, 0], axis=1) / seq["gt"][:, 0, 2]
    assert np.median(rel_err) < 0.02 and rel_err.max() < 0.05, (np.median(rel_err), rel_err.max())


def test_lens_distortion_is_removed_from_the_2d_input():
    cam = Intrinsics((1145.0, 1144.0), (512.0, 515.0), (-0.2, 0.24, 0.0), (-0.001, -0.0014), 1000, 1000)
    seq = make_sequence(5, seed=4)
    k = project(seq["gt"], cam)                                      # distorted pixels
    res = SkeletonFitter(SKELETON, cam).fit(k[0], seq["x"][0], None, 0.0)
    assert np.abs(res.joints - seq["gt"][0]).max() < 0.05


def test_low_confidence_and_nan_joints_are_held():
    seq = make_sequence(30, seed=5)
    fitter = SkeletonFitter(SKELETON, CAMERA)
    for i in range(20):
        fitter.fit(seq["k"][i], seq["x"][i], None, seq["t"][i])
    k, x, c = seq["k"][20].copy(), seq["x"][20].copy(), np.ones(17)
    k[13], x[13] = np.nan, np.nan                  # left wrist missing
    x[16] += 500.0
    c[16] = 0.05                                    # right wrist: wild but below min_confidence
    res = fitter.fit(k, x, c, seq["t"][20])
    assert np.all(np.isfinite(res.joints)) and not res.held
    assert np.linalg.norm(res.joints[16] - seq["gt"][20, 16]) < 60.0
    assert np.linalg.norm(res.joints[13] - seq["gt"][20, 13]) < 60.0


def test_frames_without_joints_hold_the_previous_pose():
    seq = make_sequence(4, seed=6)
    fitter = SkeletonFitter(SKELETON, CAMERA)
    nan2, nan3 = np.full((17, 2), np.nan), np.full((17, 3), np.nan)
    assert fitter.fit(nan2, nan3, None, 0.0) is None                  # nothing to hold yet
    first = fitter.fit(seq["k"][1], seq["x"][1], None, 0.1)
    held = fitter.fit(nan2, nan3, np.zeros(17), 0.2)
    assert held.held and np.array_equal(held.joints, first.joints) and np.isnan(held.reprojection_error_px)
    again = fitter.fit(seq["k"][3], seq["x"][3], None, 0.3)
    assert not again.held and np.abs(again.joints - seq["gt"][3]).max() < 30.0


def test_joint_limits_keep_knees_from_bending_forwards():
    seq = make_sequence(3, seed=7)
    x = seq["x"][0].copy()
    knee, hip = x[2], x[1]
    thigh = (knee - hip) / np.linalg.norm(knee - hip)
    left_axis = (x[4] - x[1]) / np.linalg.norm(x[4] - x[1])
    forward = -cross(left_axis, thigh)                              # the wrong way for a knee
    x[3] = knee + 446.0 * (np.cos(1.0) * thigh + np.sin(1.0) * forward / np.linalg.norm(forward))
    cfg = FitConfig(w_proj=0.0, joint_limits=True)
    res = SkeletonFitter(SKELETON, CAMERA, cfg).fit(seq["k"][0], x, None, 0.0)
    p = res.joints
    a, b = p[2] - p[1], p[3] - p[2]
    back = cross(res.pelvis[:, 0], a)
    assert b @ back >= -1e-6                                         # bent backwards or straight
    free = SkeletonFitter(SKELETON, CAMERA, FitConfig(w_proj=0.0)).fit(seq["k"][0], x, None, 0.0)
    assert (free.joints[3] - free.joints[2]) @ cross(free.pelvis[:, 0], free.joints[2] - free.joints[1]) < 0


def test_estimate_bone_lengths_is_robust_and_symmetric():
    seq = make_sequence(50, seed=8, noise3d=5.0)
    x = seq["x"].copy()
    x[::5] *= 3.0                                                   # 20 % outlier frames
    est = np.array(estimate_bone_lengths(x).bone_lengths)
    np.testing.assert_allclose(est, SKELETON.bone_lengths, rtol=0.05)
    assert est[1] == est[4] and est[11] == est[14]                  # left = right
    x[:, 10] = np.nan
    with pytest.raises(ValueError, match=r"joints \[10\]"):
        estimate_bone_lengths(x)
    with pytest.raises(ValueError, match=r"\(50, 16, 3\)"):
        estimate_bone_lengths(np.zeros((50, 16, 3)))
    z = np.zeros((5, 17, 3))
    with pytest.raises(ValueError, match="finite and > 0"):
        estimate_bone_lengths(z)                                    # zero-length bones


def test_fit_sequence_matches_streaming():
    seq = make_sequence(20, seed=9, noise2d=1.0, noise3d=10.0)
    out = fit_sequence(seq["k"], seq["x"], seq["conf"], seq["t"], CAMERA, SKELETON)
    fitter = SkeletonFitter(SKELETON, CAMERA)
    last = [fitter.fit(seq["k"][i], seq["x"][i], seq["conf"][i], seq["t"][i]) for i in range(20)][-1]
    np.testing.assert_allclose(out["joints"][-1], last.joints)
    assert out["joints"].shape == (20, 17, 3) and not out["held"].any()


def test_bad_input_errors():
    fitter = SkeletonFitter(SKELETON, CAMERA)
    with pytest.raises(ValueError, match=r"\(16, 2\)"):
        fitter.fit(np.zeros((16, 2)), np.zeros((17, 3)), None, 0.0)
    with pytest.raises(ValueError, match=r"confidence \(17,\), got \(3,\)"):
        fitter.fit(np.zeros((17, 2)), np.zeros((17, 3)), np.ones(3), 0.0)
    seq = make_sequence(2, seed=10)
    fitter.fit(seq["k"][0], seq["x"][0], None, 1.0)
    with pytest.raises(ValueError, match="increase strictly"):
        fitter.fit(seq["k"][1], seq["x"][1], None, 1.0)
    with pytest.raises(ValueError, match="focal"):
        SkeletonFitter(SKELETON, Intrinsics((0.0, 1.0), (0.0, 0.0)))
    with pytest.raises(ValueError, match="w_proj"):
        FitConfig(w_proj=-1.0)
    with pytest.raises(ValueError, match="fit_sequence"):
        fit_sequence(np.zeros((3, 17, 2)), np.zeros((2, 17, 3)), None, np.arange(3.0), CAMERA, SKELETON)


def test_fit_sequence_personalises_from_smoothed_3d():
    seq = make_sequence(90, seed=14, noise3d=25.0)
    out = fit_sequence(seq["k"], seq["x"], None, seq["t"], CAMERA)
    raw = estimate_bone_lengths(seq["x"][:60])
    err_smooth = np.abs(np.array(out["skeleton"].bone_lengths) / SKELETON.bone_lengths - 1)
    err_raw = np.abs(np.array(raw.bone_lengths) / SKELETON.bone_lengths - 1)
    assert err_smooth.mean() < err_raw.mean() and err_smooth.max() < 0.12


def test_analytic_jacobian_matches_finite_differences():
    from postprocess.skeleton_fit import N_PARAMS, _Data
    seq = make_sequence(3, seed=15, noise2d=2.0, noise3d=20.0)
    fitter = SkeletonFitter(SKELETON, CAMERA)
    fitter.fit(seq["k"][0], seq["x"][0], None, 0.0)
    k, pl, w2, w3 = fitter._prepare(seq["k"][1], seq["x"][1], None)
    data = _Data(k, pl, np.sqrt(w3[1:])[:, None], np.sqrt(44.0 * w2) * 4.0, seq["gt"][0] + 5.0,
                 seq["gt"][0, :, 2], 0.3, 0.4)
    r, jac, _, state = fitter._evaluate(fitter._state, data, jac=True)
    numeric = np.empty_like(jac)
    for i in range(N_PARAMS):
        step = np.zeros(N_PARAMS)
        step[i] = 1e-6
        plus = fitter._evaluate(fitter._apply(state, step), data, jac=False)[0]
        minus = fitter._evaluate(fitter._apply(state, -step), data, jac=False)[0]
        numeric[:, i] = (plus - minus) / 2e-6
    assert np.abs(jac - numeric).max() < 1e-5 * np.abs(jac).max()
