"""The kinematic rig: bone lengths, forward kinematics, rotations from positions.

Conventions (pinned by tests/postprocess/test_kinematics.py; rotations themselves, quaternion
and axis-angle conventions included, are movnect.rotations'):
  * Skeleton axes are the camera axes of the project (x right, y down, z forward, mm).
    The rest (T-)pose stands upright facing the camera (towards -z): up is -y, the person's
    left is +x, arms horizontal, legs straight down. Every bone of the rest pose is along an
    axis (`REST_DIRECTIONS`), so a personalised skeleton is fully given by its 16 bone lengths.
  * Joint k carries a rotation that turns the rest offsets of ALL its children (as in BVH and
    in avatar rigs): the pelvis turns both hips and the spine, the thorax turns the neck and
    both shoulders. Local rotation R_k is relative to the parent's frame; global
    G_k = G_parent(k) @ R_k (root: G_0 = R_0); position P_c = P_k + G_k @ offset_c.
    Leaf joints (feet, wrists, head top) have no child, so their rotation is identity.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from movnect.rotations import cross, skew
from movnect.skeleton import NUM_JOINTS, PARENTS

SYMMETRIC_BONES = ((1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16))  # (right, left) bones

__all__ = [
    "REST_DIRECTIONS", "ROTATING_JOINTS", "LEVELS", "Skeleton", "forward_kinematics", "global_to_local", "swing_rotation", "rotations_from_positions",
    "LIMBS", "LIMB_HINGES", "kabsch_rotation", "estimate_bone_lengths",
]

# Direction of bone parent(j) -> j in the rest pose (camera axes), one row per joint.
REST_DIRECTIONS: np.ndarray = np.array([
    [0, 0, 0],                                   # root
    [-1, 0, 0], [0, 1, 0], [0, 1, 0],            # right hip, knee, foot
    [1, 0, 0], [0, 1, 0], [0, 1, 0],             # left hip, knee, foot
    [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0],  # spine, thorax, neck base, head
    [1, 0, 0], [1, 0, 0], [1, 0, 0],             # left shoulder, elbow, wrist
    [-1, 0, 0], [-1, 0, 0], [-1, 0, 0],          # right shoulder, elbow, wrist
], dtype=np.float64)
REST_DIRECTIONS.setflags(write=False)

# Joints whose rotation moves something (they have children), in joint order.
ROTATING_JOINTS: tuple[int, ...] = tuple(j for j in range(NUM_JOINTS) if j in PARENTS)


def _levels() -> tuple[np.ndarray, ...]:
    depth = [0] * NUM_JOINTS
    for j in range(1, NUM_JOINTS):
        depth[j] = depth[PARENTS[j]] + 1
    return tuple(np.array([j for j in range(NUM_JOINTS) if depth[j] == d])
                 for d in range(1, max(depth) + 1))


# Non-root joints grouped by tree depth: FK runs one batched step per level.
LEVELS: tuple[np.ndarray, ...] = _levels()


def _check(x: np.ndarray, tail: tuple[int, ...], name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < len(tail) or x.shape[x.ndim - len(tail):] != tail:
        raise ValueError(f"{name}: expected shape (..., {', '.join(map(str, tail))}), got {x.shape}")
    return x


# ---------------------------------------------------------------------------------------------
# Skeleton and forward kinematics


@dataclass(frozen=True)
class Skeleton:
    """A personalised kinematic skeleton: the 17-joint tree with fixed bone lengths.

    bone_lengths: 16 lengths in mm, one per non-root joint j = 1..16 (bone parent(j) -> j,
    the order of movnect.skeleton.BONES). All must be finite and > 1e-3 mm.
    """

    bone_lengths: tuple[float, ...]

    def __post_init__(self) -> None:
        lengths = np.asarray(self.bone_lengths, dtype=np.float64)
        if lengths.shape != (NUM_JOINTS - 1,):
            raise ValueError(f"Skeleton: expected {NUM_JOINTS - 1} bone lengths, got shape {lengths.shape}")
        if not np.all(np.isfinite(lengths)) or np.any(lengths <= 1e-3):
            bad = [int(j) + 1 for j in np.flatnonzero(~(np.isfinite(lengths) & (lengths > 1e-3)))]
            raise ValueError(f"Skeleton: bone lengths must be finite and > 0 mm; bad bones "
                             f"(child joints) {bad}: {lengths[np.array(bad) - 1].tolist()}")
        object.__setattr__(self, "bone_lengths", tuple(float(x) for x in lengths))

    @classmethod
    def from_lengths(cls, lengths: np.ndarray) -> "Skeleton":
        return cls(tuple(np.asarray(lengths, dtype=np.float64).reshape(-1).tolist()))

    @cached_property
    def offsets(self) -> np.ndarray:
        """(17, 3) rest offsets from each joint's parent, mm (row 0 = zeros)."""
        off = REST_DIRECTIONS * np.concatenate([[0.0], self.bone_lengths])[:, None]
        off.setflags(write=False)
        return off

    @cached_property
    def rest_pose(self) -> np.ndarray:
        """(17, 3) joint positions of the T-pose with the root at the origin, mm."""
        pos, _ = forward_kinematics(self.offsets, np.zeros(3), np.broadcast_to(np.eye(3), (NUM_JOINTS, 3, 3)))
        return pos

    @property
    def knee_neck_length(self) -> float:
        """Path length knee -> hip -> pelvis -> spine -> thorax -> neck base (mean of sides), mm.

        The body-size measure VNect normalises to (92 cm); used for 1-Euro speed scaling.
        """
        b = np.concatenate([[0.0], self.bone_lengths])
        return float((b[2] + b[5]) / 2 + (b[1] + b[4]) / 2 + b[7] + b[8] + b[9])


def forward_kinematics(
    offsets: np.ndarray, root_position: np.ndarray, local_rotations: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Joint positions and global rotations of a posed skeleton.

    Args:
        offsets: (17, 3) rest offsets (Skeleton.offsets), mm.
        root_position: (..., 3) pelvis position, mm.
        local_rotations: (..., 17, 3, 3) rotation of each joint relative to its parent.
    Returns:
        positions (..., 17, 3) mm and global rotations (..., 17, 3, 3).
    """
    offsets = _check(offsets, (NUM_JOINTS, 3), "forward_kinematics offsets")
    local = _check(local_rotations, (NUM_JOINTS, 3, 3), "forward_kinematics local_rotations")
    root = _check(root_position, (3,), "forward_kinematics root_position")
    if root.shape[:-1] != local.shape[:-3]:
        raise ValueError(f"forward_kinematics: root {root.shape} and rotations {local.shape} "
                         "have different batch shapes")
    glob = np.empty_like(local)
    pos = np.empty(local.shape[:-1], dtype=np.float64)
    glob[..., 0, :, :] = local[..., 0, :, :]
    pos[..., 0, :] = root
    parents = np.asarray(PARENTS)
    for idx in LEVELS:
        par = parents[idx]
        g_par = glob[..., par, :, :]
        pos[..., idx, :] = pos[..., par, :] + (g_par @ offsets[idx][..., None])[..., 0]
        glob[..., idx, :, :] = g_par @ local[..., idx, :, :]
    return pos, glob


def global_to_local(global_rotations: np.ndarray) -> np.ndarray:
    """(..., 17, 3, 3) global rotations -> local rotations R_k = G_parent^T G_k."""
    glob = _check(global_rotations, (NUM_JOINTS, 3, 3), "global_to_local")
    local = glob.copy()
    par = np.asarray(PARENTS[1:])
    local[..., 1:, :, :] = np.swapaxes(glob[..., par, :, :], -1, -2) @ glob[..., 1:, :, :]
    return local


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.sqrt((v * v).sum(-1, keepdims=True)), 1e-12)


def swing_rotation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Smallest rotations taking unit vectors x to unit vectors y: (n, 3), (n, 3) -> (n, 3, 3).

    Opposite vectors get a 180-degree turn about an axis perpendicular to x.
    """
    v = cross(x, y)
    c = (x * y).sum(-1)
    k = skew(v)
    r = np.eye(3) + k + (k @ k) / np.maximum(1.0 + c, 1e-18)[:, None, None]
    anti = c < -1.0 + 1e-9
    if np.any(anti):
        helper = np.where(np.abs(x[anti, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])
        axis = _unit(cross(x[anti], helper))
        r[anti] = 2.0 * axis[:, :, None] * axis[:, None, :] - np.eye(3)
    return r


# Limbs as (upper joint, middle joint, end joint) and the rest flexion axis of the middle joint
# (knees: +x; left elbow: +y; right elbow: -y; positive rotation about it = flexion).
LIMBS = np.array([[1, 2, 3], [4, 5, 6], [11, 12, 13], [14, 15, 16]])
LIMB_HINGES = np.array([[1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0], [0, -1.0, 0]])


def rotations_from_positions(joints: np.ndarray, pelvis: np.ndarray, thorax: np.ndarray) -> np.ndarray:
    """Global joint rotations of a posed rig from its joint positions.

    Twist about a bone is not observable from 17 points, so it is set by convention: hips and
    shoulders are turned so that the knee / elbow bends about its hinge axis (the normal of
    the limb's plane, blended towards the swing-only axis when the limb is nearly straight);
    spine, neck, knees and elbows take the swing-only (minimal-twist) rotation from their
    parent; leaves copy their parent. With these rotations, forward_kinematics reproduces
    `joints` exactly (when `joints` have the rig's bone lengths and pelvis/thorax shapes).

    Args:
        joints: (17, 3) positions, mm.
        pelvis, thorax: (3, 3) global rotations of joints 0 and 8 (they carry several
            children, so they are inputs: the fitter solves for them).
    Returns:
        (17, 3, 3) global rotations (rest pose = identity).
    """
    p = _check(joints, (NUM_JOINTS, 3), "rotations_from_positions joints")
    glob = np.empty((NUM_JOINTS, 3, 3))
    glob[0], glob[8] = pelvis, thorax
    gp = glob[[0, 8, 0, 0, 8, 8]]
    a = _unit(p[[8, 10, 2, 5, 12, 15]] - p[[7, 9, 1, 4, 11, 14]])
    rest = REST_DIRECTIONS[[8, 10, 2, 5, 12, 15]]
    swing = swing_rotation((gp @ rest[..., None])[..., 0], a) @ gp
    glob[[7, 9]] = swing[:2]
    a4, rest4 = a[2:], rest[2:]
    b4 = _unit(p[LIMBS[:, 2]] - p[LIMBS[:, 1]])
    n_swing = (swing[2:] @ LIMB_HINGES[..., None])[..., 0]
    n = cross(a4, b4) + 0.17 * n_swing          # 0.17 ~ sin(10 deg): blend when straight
    n = n - a4 * (n * a4).sum(-1, keepdims=True)
    norm = np.sqrt((n * n).sum(-1, keepdims=True))
    n = np.where(norm > 1e-6, n / np.maximum(norm, 1e-12), n_swing)
    world = np.stack([a4, n, cross(a4, n)], axis=-1)
    restf = np.stack([rest4, LIMB_HINGES, cross(rest4, LIMB_HINGES)], axis=-1)
    upper = world @ np.swapaxes(restf, -1, -2)
    glob[LIMBS[:, 0]] = upper
    x2 = (upper @ REST_DIRECTIONS[LIMBS[:, 2]][..., None])[..., 0]
    glob[LIMBS[:, 1]] = swing_rotation(x2, b4) @ upper
    glob[[3, 6, 10, 13, 16]] = glob[[2, 5, 9, 12, 15]]
    return glob


def kabsch_rotation(rest: np.ndarray, obs: np.ndarray, w: np.ndarray) -> np.ndarray | None:
    """Rotation R minimising sum w |R rest_i - obs_i|^2 (unit vectors); None if degenerate."""
    if np.count_nonzero(w > 0) < 2:
        return None
    h = (rest * w[:, None]).T @ obs
    u, s, vt = np.linalg.svd(h)
    if s[1] < 1e-6 * max(s[0], 1e-12):
        return None
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    return vt.T @ np.diag([1.0, 1.0, d]) @ u.T


def estimate_bone_lengths(joints3d: np.ndarray, confidence: np.ndarray | None = None,
                          min_confidence: float = 0.3, symmetric: bool = True) -> Skeleton:
    """Personalise bone lengths: per-bone median over frames (robust to outlier frames).

    Pass temporally smoothed predictions (e.g. the 1-Euro-filtered 3D of a few seconds): noise
    inflates lengths, E|b + n| > |b|, by 10-20 % on short bones at 25 mm per-axis noise.

    Args:
        joints3d: (T, 17, 3) predicted 3D joints (root-relative or not), mm; NaN = missing.
        confidence: (T, 17) or None; a bone counts in a frame if both ends are >= min_confidence.
        symmetric: average each left/right pair (arms, legs, hips, shoulders).
    Returns:
        the Skeleton; ValueError if a bone never has a valid sample or its median is 0.
    """
    x = np.asarray(joints3d, dtype=np.float64)
    if x.ndim != 3 or x.shape[1:] != (NUM_JOINTS, 3) or x.shape[0] < 1:
        raise ValueError(f"estimate_bone_lengths: expected (T, {NUM_JOINTS}, 3), got shape {x.shape}")
    ok = np.all(np.isfinite(x), axis=-1)
    if confidence is not None:
        c = np.asarray(confidence, dtype=np.float64)
        if c.shape != x.shape[:2]:
            raise ValueError(f"estimate_bone_lengths: confidence must be {x.shape[:2]}, got {c.shape}")
        ok &= c >= min_confidence
    par = np.asarray(PARENTS[1:])
    lengths = np.linalg.norm(x[:, 1:] - x[:, par], axis=-1)
    lengths = np.where(ok[:, 1:] & ok[:, par], lengths, np.nan)
    seen = np.isfinite(lengths).any(axis=0)
    med = np.full(NUM_JOINTS - 1, np.nan)
    med[seen] = np.nanmedian(lengths[:, seen], axis=0)
    for a, b in SYMMETRIC_BONES if symmetric else ():
        both = lengths[:, [a - 1, b - 1]]
        if np.isfinite(both).any():       # pooled median; fills a side never seen
            med[a - 1] = med[b - 1] = np.nanmedian(both)
    if np.isnan(med).any():
        missing = [int(j) + 1 for j in np.flatnonzero(np.isnan(med))]
        raise ValueError(f"estimate_bone_lengths: no valid sample for bones ending at joints {missing}")
    return Skeleton.from_lengths(med)
