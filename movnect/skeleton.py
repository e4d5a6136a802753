"""THE joint convention of the project: the Human3.6M 17-joint skeleton.

Every array of joints in the project is ordered as `JOINT_NAMES` below, root (pelvis) first.
Other joint sets (the 32-joint Human3.6M release skeleton, MPII, COCO, avatar bones) map INTO
this one here, and nowhere else.

Coordinate conventions (see also camera.py):
  * 3D: camera frame, x right, y down, z forward (away from the camera), millimetres.
  * Root-relative 3D: joint minus joint 0 (pelvis).
  * "left" and "right" are the person's own left and right.
"""
from __future__ import annotations

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "root",            # 0  pelvis
    "right_hip",       # 1
    "right_knee",      # 2
    "right_foot",      # 3  ankle
    "left_hip",        # 4
    "left_knee",       # 5
    "left_foot",       # 6  ankle
    "spine",           # 7
    "thorax",          # 8
    "neck_base",       # 9  (called neck/nose in some codebases)
    "head",            # 10
    "left_shoulder",   # 11
    "left_elbow",      # 12
    "left_wrist",      # 13
    "right_shoulder",  # 14
    "right_elbow",     # 15
    "right_wrist",     # 16
)
NUM_JOINTS: int = len(JOINT_NAMES)
ROOT: int = 0

# Kinematic parent of each joint (-1 for the root).
PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)

# (left, right) index pairs swapped by a horizontal flip.
FLIP_PAIRS: tuple[tuple[int, int], ...] = ((4, 1), (5, 2), (6, 3), (11, 14), (12, 15), (13, 16))
LEFT_JOINTS: tuple[int, ...] = tuple(l for l, _ in FLIP_PAIRS)
RIGHT_JOINTS: tuple[int, ...] = tuple(r for _, r in FLIP_PAIRS)

# Bones as (parent, child), one per non-root joint, in joint order.
BONES: tuple[tuple[int, int], ...] = tuple((PARENTS[j], j) for j in range(1, NUM_JOINTS))


def flip_permutation() -> np.ndarray:
    """Index array `perm` with `joints[..., perm, :]` = joints after a left/right swap."""
    perm = np.arange(NUM_JOINTS)
    for l, r in FLIP_PAIRS:
        perm[l], perm[r] = r, l
    return perm


FLIP_PERM: np.ndarray = flip_permutation()

# ---------------------------------------------------------------------------------------------
# Human3.6M release: 32-joint skeleton -> 17 joints (the subset used by papers).
H36M32_PARENTS: tuple[int, ...] = (
    -1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12, 16, 17, 18, 19, 20, 19, 22, 12,
    24, 25, 26, 27, 28, 27, 30,
)
H36M32_TO_17: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)


def from_h36m32(joints32: np.ndarray) -> np.ndarray:
    """Select the 17 joints from release poses.

    Args:
        joints32: (..., 32, D) array (D = 2 or 3), any unit.
    Returns:
        (..., 17, D) array in this module's joint order.
    """
    joints32 = np.asarray(joints32)
    if joints32.ndim < 2 or joints32.shape[-2] != 32:
        raise ValueError(f"expected (..., 32, D) release joints, got shape {joints32.shape}")
    return joints32[..., list(H36M32_TO_17), :]


# ---------------------------------------------------------------------------------------------
# 2D-only datasets. Each entry of a mapping gives, for one of our 17 joints, the source
# keypoint indices whose mean is that joint; an empty tuple means "not annotated" (mask 0).
# Midpoints are used only where the anatomy agrees closely (pelvis = mid-hips, thorax =
# mid-shoulders); spine and head have no counterpart in COCO and stay unlabelled.
COCO_KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
COCO_TO_17: tuple[tuple[int, ...], ...] = (
    (11, 12), (12,), (14,), (16,), (11,), (13,), (15,), (), (5, 6), (), (),
    (5,), (7,), (9,), (6,), (8,), (10,),
)
MPII_KEYPOINTS: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis",
    "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder",
    "left_shoulder", "left_elbow", "left_wrist",
)
MPII_TO_17: tuple[tuple[int, ...], ...] = (
    (6,), (2,), (1,), (0,), (3,), (4,), (5,), (), (7,), (8,), (9,),
    (13,), (14,), (15,), (12,), (11,), (10,),
)


def map_keypoints(
    keypoints: np.ndarray, visible: np.ndarray, mapping: tuple[tuple[int, ...], ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Map a 2D keypoint set into the 17-joint order.

    Args:
        keypoints: (K, 2) source keypoints in pixels.
        visible: (K,) bool or 0/1, whether each source keypoint is annotated.
        mapping: one tuple of source indices per target joint (COCO_TO_17, MPII_TO_17).
    Returns:
        joints: (17, 2) pixels (0 where unlabelled); mask: (17,) float32, 1 where labelled
        (a derived joint is labelled only if all its sources are).
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    visible = np.asarray(visible).astype(bool)
    if keypoints.ndim != 2 or keypoints.shape[1] != 2 or visible.shape != keypoints.shape[:1]:
        raise ValueError(
            f"expected keypoints (K, 2) and visible (K,), got {keypoints.shape} and {visible.shape}"
        )
    if len(mapping) != NUM_JOINTS:
        raise ValueError(f"mapping must have {NUM_JOINTS} entries, got {len(mapping)}")
    joints = np.zeros((NUM_JOINTS, 2), dtype=np.float32)
    mask = np.zeros(NUM_JOINTS, dtype=np.float32)
    for j, src in enumerate(mapping):
        if src and all(s < len(visible) and visible[s] for s in src):
            joints[j] = keypoints[list(src)].mean(axis=0)
            mask[j] = 1.0
    return joints, mask


def bone_lengths(joints3d: np.ndarray) -> np.ndarray:
    """Bone lengths.

    Args:
        joints3d: (..., 17, 3) joints, any length unit.
    Returns:
        (..., 16) length of each bone in BONES order, same unit.
    """
    joints3d = np.asarray(joints3d)
    if joints3d.ndim < 2 or joints3d.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"expected (..., {NUM_JOINTS}, 3) joints, got shape {joints3d.shape}")
    parents = [p for p, _ in BONES]
    children = [c for _, c in BONES]
    return np.linalg.norm(joints3d[..., children, :] - joints3d[..., parents, :], axis=-1)


def root_relative(joints3d: np.ndarray) -> np.ndarray:
    """Subtract the root joint: (..., 17, 3) -> (..., 17, 3), same unit."""
    joints3d = np.asarray(joints3d)
    if joints3d.ndim < 2 or joints3d.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"expected (..., {NUM_JOINTS}, 3) joints, got shape {joints3d.shape}")
    return joints3d - joints3d[..., ROOT : ROOT + 1, :]


# ---------------------------------------------------------------------------------------------
# BlazePose GHUM (MediaPipe): 33 landmarks (+ 6 auxiliary ROI points the model also outputs).
BLAZEPOSE_LANDMARKS: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)
_BP = {n: i for i, n in enumerate(BLAZEPOSE_LANDMARKS)}
# Fraction of the way from pelvis to thorax where Human3.6M's spine joint sits (its mean bones:
# pelvis-spine 233 mm, spine-thorax 257 mm).
SPINE_FRACTION: float = 233.0 / (233.0 + 257.0)


def _blazepose_weights() -> np.ndarray:
    """(17, 33) weights: each of our joints as a fixed linear combination of landmarks.

    Direct: hips, knees, ankles, shoulders, elbows, wrists (BlazePose's hips sit a little
    wider than Human3.6M's hip joint centres). Derived, documented approximations:
      root      = mid-hips
      thorax    = mid-shoulders
      spine     = root + SPINE_FRACTION (thorax - root)
      neck_base = mid(thorax, nose)       (H36M's joint lies ~110 mm above the thorax, about
                                           half-way to the nose)
      head      = mid-ears + (mid-eyes - mid-mouth)   (one eye-to-mouth step above the ears)
    """
    w = np.zeros((NUM_JOINTS, len(BLAZEPOSE_LANDMARKS)))

    def add(j: int, names: tuple[str, ...], weight: float) -> None:
        for n in names:
            w[j, _BP[n]] += weight / len(names)

    direct = {1: "right_hip", 2: "right_knee", 3: "right_ankle", 4: "left_hip", 5: "left_knee",
              6: "left_ankle", 11: "left_shoulder", 12: "left_elbow", 13: "left_wrist",
              14: "right_shoulder", 15: "right_elbow", 16: "right_wrist"}
    for j, n in direct.items():
        add(j, (n,), 1.0)
    hips, shoulders = ("left_hip", "right_hip"), ("left_shoulder", "right_shoulder")
    add(0, hips, 1.0)
    add(8, shoulders, 1.0)
    add(7, hips, 1.0 - SPINE_FRACTION)
    add(7, shoulders, SPINE_FRACTION)
    add(9, shoulders, 0.5)
    add(9, ("nose",), 0.5)
    add(10, ("left_ear", "right_ear"), 1.0)
    add(10, ("left_eye", "right_eye"), 1.0)
    add(10, ("mouth_left", "mouth_right"), -1.0)
    return w


BLAZEPOSE_TO_17: np.ndarray = _blazepose_weights()
_BLAZEPOSE_USED: tuple[np.ndarray, ...] = tuple(np.flatnonzero(row) for row in BLAZEPOSE_TO_17)
# Joints whose BlazePose counterpart is a landmark of the same anatomical point (or a midpoint
# of two): the set on which BlazePose and our models are compared (pelvis, the 12 limb joints
# and the thorax).
BLAZEPOSE_SHARED: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 8, 11, 12, 13, 14, 15, 16)


def from_blazepose(points: np.ndarray, visibility: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """BlazePose landmarks -> our 17 joints.

    Args:
        points: (..., 33, D) landmarks (D = 2 image pixels or 3 any unit); extra auxiliary
            landmarks past the 33rd (the model outputs 39) are ignored.
        visibility: (..., 33) probabilities in [0, 1], or None (all 1).
    Returns:
        joints (..., 17, D) in this module's order, same unit; confidence (..., 17): the
        smallest visibility among the landmarks each joint is made of.
    """
    points = np.asarray(points, dtype=np.float64)
    n = len(BLAZEPOSE_LANDMARKS)
    if points.ndim < 2 or points.shape[-2] < n:
        raise ValueError(f"expected (..., >= {n}, D) BlazePose landmarks, got shape {points.shape}")
    points = points[..., :n, :]
    joints = np.einsum("jk,...kd->...jd", BLAZEPOSE_TO_17, points)
    if visibility is None:
        return joints, np.ones(joints.shape[:-1])
    vis = np.asarray(visibility, dtype=np.float64)
    if vis.shape[:-1] != points.shape[:-2] or vis.shape[-1] < n:
        raise ValueError(f"visibility: expected shape {points.shape[:-1]}, got {vis.shape}")
    vis = vis[..., :n]
    conf = np.stack([vis[..., used].min(axis=-1) for used in _BLAZEPOSE_USED], axis=-1)
    return joints, conf
