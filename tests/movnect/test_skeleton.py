import json
from pathlib import Path

import numpy as np
import pytest

from movnect import skeleton as sk

REF = Path(__file__).resolve().parents[3] / "shared" / "reference" / "h36m.json"


def test_convention_joint_order_and_root():
    assert sk.NUM_JOINTS == 17
    assert sk.JOINT_NAMES[0] == "root" and sk.ROOT == 0
    assert sk.JOINT_NAMES[3] == "right_foot" and sk.JOINT_NAMES[6] == "left_foot"
    assert sk.JOINT_NAMES[10] == "head"
    assert sk.JOINT_NAMES[13] == "left_wrist" and sk.JOINT_NAMES[16] == "right_wrist"


def test_convention_parents_form_a_tree_rooted_at_pelvis():
    assert sk.PARENTS[0] == -1
    for j in range(1, sk.NUM_JOINTS):
        assert 0 <= sk.PARENTS[j] < j  # parents come first: FK can run in index order
    assert sk.PARENTS == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)


def test_convention_flip_pairs_swap_left_and_right_names():
    for l, r in sk.FLIP_PAIRS:
        assert sk.JOINT_NAMES[l].startswith("left_") and sk.JOINT_NAMES[r].startswith("right_")
        assert sk.JOINT_NAMES[l][5:] == sk.JOINT_NAMES[r][6:]
    perm = sk.FLIP_PERM
    assert np.array_equal(perm[perm], np.arange(17))  # an involution
    centre = [j for j in range(17) if perm[j] == j]
    assert centre == [0, 7, 8, 9, 10]


def test_convention_matches_shared_reference():
    if not REF.exists():
        pytest.skip("shared reference not beside the checkout")
    ref = json.loads(REF.read_text())
    sub = ref["subset17"]
    assert list(sk.JOINT_NAMES) == sub["names"]
    assert list(sk.PARENTS) == sub["parents"]
    assert list(sk.H36M32_TO_17) == sub["indices_into_32"]
    assert list(sk.H36M32_PARENTS) == ref["joints32_parents"]
    assert sorted(sk.LEFT_JOINTS) == sorted(sub["left"]) and sorted(sk.RIGHT_JOINTS) == sorted(sub["right"])


def test_17_subset_keeps_parent_structure_of_32_skeleton():
    # The 17-joint parent of each joint is an ancestor of it in the 32-joint tree, except the
    # shoulders: the papers' 17-joint tree hangs them from the thorax, while the release hangs
    # thorax and clavicles side by side from the upper spine (32-joint 12).
    for j17, j32 in enumerate(sk.H36M32_TO_17):
        p17 = sk.PARENTS[j17]
        if p17 < 0:
            continue
        if j17 in (11, 14):
            assert sk.H36M32_PARENTS[sk.H36M32_PARENTS[j32]] == sk.H36M32_PARENTS[sk.H36M32_TO_17[p17]]
            continue
        target, a = sk.H36M32_TO_17[p17], sk.H36M32_PARENTS[j32]
        while a not in (-1, target):
            a = sk.H36M32_PARENTS[a]
        assert a == target


def test_from_h36m32_selects_and_checks_shape():
    x = np.arange(32 * 3, dtype=float).reshape(32, 3)
    y = sk.from_h36m32(x)
    assert y.shape == (17, 3) and np.array_equal(y[4], x[6])
    with pytest.raises(ValueError, match=r"\(\.\.\., 32, D\)"):
        sk.from_h36m32(np.zeros((17, 3)))


def test_bone_lengths_hand_computed():
    j = np.zeros((17, 3))
    for c in range(1, 17):
        j[c] = j[sk.PARENTS[c]] + np.array([0.0, 0.0, float(c)])
    np.testing.assert_allclose(sk.bone_lengths(j), np.arange(1, 17, dtype=float))
    with pytest.raises(ValueError, match="17, 3"):
        sk.bone_lengths(np.zeros((16, 3)))


def test_map_keypoints_coco_midpoints_and_mask():
    kp = np.zeros((17, 2))
    kp[11], kp[12] = (10, 20), (30, 40)  # hips
    kp[5], kp[6] = (0, 0), (4, 8)        # shoulders
    vis = np.ones(17, bool)
    vis[0] = False
    joints, mask = sk.map_keypoints(kp, vis, sk.COCO_TO_17)
    np.testing.assert_allclose(joints[0], (20, 30))
    np.testing.assert_allclose(joints[8], (2, 4))
    assert mask[7] == 0 and mask[10] == 0 and mask[0] == 1
    vis[12] = False  # one hip missing -> pelvis unlabelled
    _, mask = sk.map_keypoints(kp, vis, sk.COCO_TO_17)
    assert mask[0] == 0 and mask[1] == 0 and mask[4] == 1


def test_map_keypoints_mpii_identity_like():
    kp = np.arange(32, dtype=float).reshape(16, 2)
    joints, mask = sk.map_keypoints(kp, np.ones(16), sk.MPII_TO_17)
    assert mask.sum() == 16  # spine has no MPII counterpart
    np.testing.assert_allclose(joints[10], kp[9])   # head <- head_top
    np.testing.assert_allclose(joints[16], kp[10])  # right wrist


def test_convention_blazepose_mapping():
    from movnect.skeleton import BLAZEPOSE_LANDMARKS, BLAZEPOSE_TO_17, SPINE_FRACTION, from_blazepose

    assert len(BLAZEPOSE_LANDMARKS) == 33 and BLAZEPOSE_TO_17.shape == (17, 33)
    assert np.allclose(BLAZEPOSE_TO_17.sum(1), 1.0)  # every joint moves with a translation
    idx = {n: i for i, n in enumerate(BLAZEPOSE_LANDMARKS)}
    pts = np.zeros((39, 3))
    pts[idx["left_hip"]], pts[idx["right_hip"]] = [100, 0, 0], [-100, 0, 0]
    pts[idx["left_shoulder"]], pts[idx["right_shoulder"]] = [150, -500, 0], [-150, -500, 10]
    pts[idx["nose"]] = [0, -700, -80]
    pts[idx["left_ear"]], pts[idx["right_ear"]] = [70, -720, 0], [-70, -720, 0]
    pts[idx["left_eye"]], pts[idx["right_eye"]] = [30, -740, -60], [-30, -740, -60]
    pts[idx["mouth_left"]], pts[idx["mouth_right"]] = [20, -680, -60], [-20, -680, -60]
    pts[idx["left_wrist"]] = [400, 0, 5]
    vis = np.full(39, 0.9)
    vis[idx["left_ear"]] = 0.2
    j, conf = from_blazepose(pts, vis)
    assert np.allclose(j[0], 0) and np.allclose(j[8], [0, -500, 5])
    assert np.allclose(j[7], SPINE_FRACTION * j[8])
    assert np.allclose(j[9], [0, -600, -37.5])
    assert np.allclose(j[10], [0, -720 - 60, 0])       # ears + (eyes - mouth)
    assert np.allclose(j[13], [400, 0, 5]) and np.allclose(j[4], [100, 0, 0])  # left is left
    assert conf[10] == pytest.approx(0.2) and conf[13] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="BlazePose landmarks"):
        from_blazepose(np.zeros((17, 3)))
