"""Motion for Anny bodies: the stick-figure generator's joint angles retargeted onto Anny's rig.

The motion generator of the stick-figure renderer (movnect.data.synthetic.motion: walking
between waypoints, turning, per-action arm gestures, bending, sitting, all inside human joint
limits and smooth at 50 fps) gives each body segment a world orientation
(synthetic.body.segment_rotations). Each Anny bone follows one segment:

  root, pelvis.L/R               pelvis          upperleg01/02        thigh
  spine05..03                    lower torso     lowerleg01/02        shank
  spine02, spine01, clavicles,   chest           foot, toes           foot
    shoulder01                                   upperarm01/02        upper arm
  neck01..03, head, eyes         head            lowerarm01/02        forearm
                                                 wrist, hand bones    hand

and gets the world rotation G = M^T S M A, with S the segment's orientation (generator
frame: forward, left, up), M the fixed change of axes from Anny's (left, back, up) frame, and
A a rest correction: the smallest rotation that takes Anny's rest direction of the limb
(thighs, shanks, upper arms and forearms; A-pose arms) to the generator's zero pose (hanging
straight down). Torso, neck, head and feet keep their rest shape (A = I), so the spine keeps
its natural curve. Bone heads follow their parents (Anny's 'world-orient' posing), so bone
lengths are Anny's own, whatever the generator's skeleton was.

`random_tracks` adds smooth random poses (every angle drawn uniformly inside the joint limits
and eased from pose to pose) for coverage beyond the 15 actions: crouches, kicks, reaches,
asymmetric arms.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from movnect.data.anny.body import AnnyBody, Phenotype
from movnect.data.synthetic.body import segment_rotations
from movnect.data.synthetic.motion import (
    LIMITS_DEG, CaptureRegion, _limit, action_style, angle_tracks, pose_to_pose, sample_shape, smooth_noise,
)

# Anny axes (x left, y back, z up) -> generator body axes (x forward, y left, z up).
M = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
MOTIONS = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing", "Purchases",
           "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking", "WalkTogether", "Random")


def bone_segment(label: str) -> str:
    """The generator segment an Anny bone follows (see the module docstring)."""
    base, _, side = label.partition(".")
    s = {"L": "l", "R": "r"}.get(side, "")
    if base in ("root", "pelvis"):
        return "pelvis"
    if base in ("spine05", "spine04", "spine03"):
        return "lower"
    if base in ("spine02", "spine01", "clavicle", "shoulder01"):
        return "upper"
    if base.startswith(("neck", "head", "eye")):
        return "head"
    table = (("upperleg", "thigh"), ("lowerleg", "shank"), ("foot", "foot"), ("toe", "foot"),
             ("upperarm", "upper_arm"), ("lowerarm", "forearm"), ("wrist", "hand"), ("finger", "hand"),
             ("metacarpal", "hand"))
    for prefix, seg in table:
        if base.startswith(prefix):
            return f"{seg}_{s}"
    raise ValueError(f"no segment for Anny bone {label!r}")


def _align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation (3, 3) taking unit direction a to unit direction b."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    v, c = np.cross(a, b), float(a @ b)
    if np.linalg.norm(v) < 1e-9:
        return np.eye(3) if c > 0 else -np.eye(3)  # (antiparallel never occurs for these limbs)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1.0 + c)


def rest_corrections(bone_labels: tuple[str, ...], heads: np.ndarray) -> np.ndarray:
    """(B, 3, 3) rest corrections A (module docstring) from a body's rest bone heads (B, 3)."""
    b = {n: i for i, n in enumerate(bone_labels)}
    down = np.array([0.0, 0.0, -1.0])
    out = np.repeat(np.eye(3)[None], len(bone_labels), 0)
    for s in "LR":
        limbs = {"thigh": ("upperleg01", "lowerleg01"), "shank": ("lowerleg01", "foot"),
                 "upper_arm": ("upperarm01", "lowerarm01"), "forearm": ("lowerarm01", "wrist")}
        fix = {k: _align(heads[b[f"{e}.{s}"]] - heads[b[f"{h}.{s}"]], down) for k, (h, e) in limbs.items()}
        for label, i in b.items():
            if not label.endswith(f".{s}"):
                continue
            seg = bone_segment(label)[:-2]
            if seg in ("thigh", "shank", "upper_arm", "forearm"):
                out[i] = fix[seg]
            elif seg == "hand":
                out[i] = fix["forearm"]
    return out


class GridRegion:
    """A walkable floor region as a boolean grid (150 mm cells): CaptureRegion's interface, fast.

    CaptureRegion.contains projects a body cylinder into every camera (about 1 ms); the
    generator asks once per frame, so the grid is tabulated once per process.
    """

    def __init__(self, contains, center: np.ndarray, half: float = 3000.0, cell: float = 150.0) -> None:
        self.center = np.asarray(center, dtype=np.float64)
        self.cell, self.half = cell, half
        ticks = np.arange(-half, half + 1e-6, cell)
        self.grid = np.array([[bool(contains(self.center + [x, y])) for y in ticks] for x in ticks])
        self._cells = np.argwhere(self.grid)

    def contains(self, xy: np.ndarray) -> bool:
        i = np.round((np.asarray(xy) - self.center + self.half) / self.cell).astype(int)
        return bool((i >= 0).all() and (i < self.grid.shape[0]).all() and self.grid[i[0], i[1]])

    def sample(self, rng: np.random.Generator, tries: int = 200) -> np.ndarray:
        if not len(self._cells):
            return self.center.copy()
        i = self._cells[int(rng.integers(len(self._cells)))]
        return self.center - self.half + i * self.cell + rng.uniform(-0.4, 0.4, 2) * self.cell


@lru_cache(maxsize=1)
def h36m_region() -> GridRegion:
    """Where the generator may walk: inside all four Human3.6M views (subject S1's cameras)."""
    from movnect.camera import h36m_camera, h36m_camera_ids

    region = CaptureRegion([h36m_camera("S1", c) for c in h36m_camera_ids()])
    return GridRegion(region.contains, region.center)


@lru_cache(maxsize=1)
def open_region() -> GridRegion:
    """A free floor of radius 2.5 m around the origin (webcam and phone scenes are re-centred)."""
    return GridRegion(lambda xy: bool(np.hypot(*xy) < 2500.0), np.zeros(2))


def random_tracks(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Smooth random poses: each limb (and the trunk) eased between draws that are either near
    neutral or uniform in 70 % of its joint limits around their middle."""
    d = np.radians
    tr: dict[str, np.ndarray] = {"x": np.zeros(n), "y": np.zeros(n), "sit": np.zeros(n),
                                 "yaw": rng.uniform(-np.pi, np.pi) + smooth_noise(rng, n, 0.2, d(30))}
    names = [k for k in LIMITS_DEG if k not in ("pitch", "roll")]
    keys = [k for k in names if k.startswith(("hip", "knee", "ankle", "sh_", "elbow", "wrist"))]
    keys = [f"{k}_{s}" for k in keys for s in "lr"] + [k for k in names if k.startswith(("spine", "neck"))]

    def draw() -> np.ndarray:
        # per limb group: near neutral (35 %) or anywhere in 70 % of the range around its middle
        calm = {g: rng.uniform() < 0.35 for g in ("leg_l", "leg_r", "arm_l", "arm_r", "trunk")}
        out = []
        for k in keys:
            lo, hi = LIMITS_DEG[k[:-2] if k[-2:] in ("_l", "_r") else k]
            group = ("leg" if k.startswith(("hip", "knee", "ankle")) else "arm") + k[-2:] \
                if k[-2:] in ("_l", "_r") else "trunk"
            if calm[group]:
                out.append(d(np.clip(rng.normal(0.0, 8.0), lo, hi)))
            else:
                mid, half = (lo + hi) / 2, 0.7 * (hi - lo) / 2
                out.append(d(rng.uniform(mid - half, mid + half)))
        return np.array(out)

    track = pose_to_pose(rng, n, draw, (0.2, 0.8), (0.4, 1.0))
    for i, k in enumerate(keys):
        tr[k] = _limit(track[:, i], k[:-2] if k[-2:] in ("_l", "_r") else k)
    tr["pitch"] = _limit(0.3 * tr["spine_flex"] + smooth_noise(rng, n, 0.3, d(5)), "pitch")
    tr["roll"] = smooth_noise(rng, n, 0.3, d(3))
    return tr


def motion_tracks(rng: np.random.Generator, motion: str, frames: int, region: GridRegion | None = None
                  ) -> dict[str, np.ndarray]:
    """Angle tracks (radians; x, y in mm) of `frames` frames at 50 fps for one MOTIONS entry.

    region: where walking motions may go (default `open_region()`); random poses stay at 0, 0.
    """
    if motion == "Random":
        return random_tracks(rng, frames)
    if motion not in MOTIONS:
        raise ValueError(f"unknown motion {motion!r}; choose from {', '.join(MOTIONS)}")
    return angle_tracks(rng, frames, action_style(motion), sample_shape(rng), region or open_region())


@dataclass(frozen=True)
class Performance:
    """A posed body over frames, in a z-up world (metres, floor at z = 0).

    vertices (T, V, 3), heads (T, B, 3) bone heads; seat: (x, y, top z, yaw) of a seat under
    the person when the motion sits (else None).
    """

    vertices: np.ndarray
    heads: np.ndarray
    seat: tuple[float, float, float, float] | None


def perform(body: AnnyBody, phenotype: Phenotype, tracks: dict[str, np.ndarray],
            frames: np.ndarray) -> Performance:
    """Pose `body` along `tracks` at the given frame indices; feet on the floor.

    The root goes to the tracks' (x, y) (mm -> m) and each frame is lifted so its lowest
    vertex touches z = 0 (a seated frame too: its feet are on the floor and a seat is placed
    under it).
    """
    frames = np.asarray(frames, dtype=np.int64)
    sub = {k: v[frames] for k, v in tracks.items()}
    seg = segment_rotations(sub)
    rest = body.rest(phenotype)
    fix = rest_corrections(body.bone_labels, rest["heads"])
    rot = np.empty((len(frames), len(body.bone_labels), 3, 3))
    for i, label in enumerate(body.bone_labels):
        rot[:, i] = M.T @ seg[bone_segment(label)] @ M @ fix[i]
    root = np.repeat(rest["heads"][:1], len(frames), 0)
    posed = body.pose(phenotype, rot, root)
    verts = (posed["vertices"] - root[:, None]) @ M.T
    heads = (posed["heads"] - root[:, None]) @ M.T
    shift = np.stack([sub["x"] / 1000.0, sub["y"] / 1000.0, -verts[..., 2].min(axis=1)], -1)
    verts, heads = verts + shift[:, None], heads + shift[:, None]
    seat = None
    seated = sub["sit"] > 0.99
    if seated.any():
        hips = np.isin(body.vertex_bone, [body.bone(k) for k in ("root", "pelvis.L", "pelvis.R",
                                                                 "upperleg01.L", "upperleg01.R")])
        top = float(np.percentile(verts[seated][:, hips, 2], 3))
        pelvis = heads[seated, 0].mean(axis=0)
        yaw = float(np.median(sub["yaw"][seated]))
        fwd = 0.16 * np.array([np.cos(yaw), np.sin(yaw)])  # the seat's centre is under the thighs
        seat = (float(pelvis[0] + fwd[0]), float(pelvis[1] + fwd[1]), top, yaw)
    return Performance(verts, heads, seat)
