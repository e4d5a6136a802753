"""Procedural human motion for the synthetic release.

A kinematic skeleton in the release's 32-joint layout (`skeleton.H36M32_PARENTS`) driven by
joint angles: sampled body proportions, human joint limits, and smooth action-flavoured
motion (walking around the capture space, turning, arm gestures, bending, sitting on a chair).

Frames: world frame of the Human3.6M release (z up, floor at z = 0, millimetres). The body
frame of the pelvis has axes (forward, left, up); limb angles are in radians internally,
degrees only in the tables below.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from movnect.camera import Camera, project, world_to_camera

FPS = 50.0

# Joint limits in degrees (min, max); applied with a smooth clamp.
LIMITS_DEG: dict[str, tuple[float, float]] = {
    "hip_flex": (-30, 125), "hip_abd": (-25, 50), "hip_rot": (-35, 40), "knee": (0, 150),
    "ankle": (-35, 30), "spine_flex": (-25, 85), "spine_lat": (-30, 30),
    "spine_twist": (-45, 45), "neck_flex": (-45, 60), "neck_lat": (-35, 35),
    "neck_twist": (-70, 70), "sh_flex": (-50, 175), "sh_abd": (-15, 165), "sh_rot": (-70, 85),
    "elbow": (0, 150), "wrist": (-60, 60), "pitch": (-20, 40), "roll": (-12, 12),
}
_SIDES = {"l": 1.0, "r": -1.0}  # sign of the person's left axis


@dataclass(frozen=True)
class BodyShape:
    """Segment lengths and thicknesses of one synthetic person, millimetres."""

    height: float
    thigh: float
    shank: float
    ankle_height: float
    foot: float
    hip_half: float
    spine_low: float
    spine_up: float
    neck: float
    head: float
    shoulder_half: float
    upper_arm: float
    forearm: float
    hand: float
    thigh_radius: float
    shank_radius: float
    arm_radius: float
    forearm_radius: float
    waist_half: float
    chest_half: float
    torso_depth: float
    head_radius: float


def sample_shape(rng: np.random.Generator) -> BodyShape:
    """Random proportions: height 1.52-1.95 m, each segment within +-6 %, girth 0.85-1.3."""
    h = float(np.clip(rng.normal(1720.0, 90.0), 1520.0, 1950.0))
    j = lambda: float(rng.uniform(0.94, 1.06))  # noqa: E731
    g = float(rng.uniform(0.85, 1.3))
    return BodyShape(
        height=h, thigh=0.245 * h * j(), shank=0.245 * h * j(), ankle_height=0.045 * h,
        foot=0.15 * h * j(), hip_half=0.072 * h * j(), spine_low=0.14 * h * j(),
        spine_up=0.15 * h * j(), neck=0.067 * h * j(), head=0.07 * h * j(),
        shoulder_half=0.09 * h * j(), upper_arm=0.163 * h * j(), forearm=0.146 * h * j(),
        hand=0.06 * h, thigh_radius=0.048 * h * g, shank_radius=0.034 * h * g,
        arm_radius=0.03 * h * g, forearm_radius=0.024 * h * g, waist_half=0.08 * h * g,
        chest_half=0.092 * h * g, torso_depth=0.065 * h * g, head_radius=0.062 * h * j(),
    )


@dataclass(frozen=True)
class Chair:
    """A chair: seat centre (x, y) on the floor plane, facing yaw (rad), seat height, mm."""

    center: tuple[float, float]
    yaw: float
    seat_height: float
    size: float = 450.0


@dataclass(frozen=True)
class Motion:
    joints: np.ndarray      # (N, 32, 3) world mm, release joint order
    pelvis_rot: np.ndarray  # (N, 3, 3) columns = forward, left, up of the pelvis (world)
    torso_rot: np.ndarray   # (N, 3, 3) same for the chest
    head_rot: np.ndarray    # (N, 3, 3) same for the head
    chair: Chair | None


@dataclass(frozen=True)
class Style:
    """How an action moves: time spent walking, speed, sitting, arm gestures, bending."""

    move_fraction: float
    speed: float            # m/s while walking
    sitting: str            # "no" | "always" | "transitions"
    arms: str               # gesture family, see _arm_target
    bend_deg: float         # largest forward bend of the spine


def action_style(action: str) -> Style:
    """The motion style of a canonical Human3.6M action name."""
    if action in ("Walking", "WalkTogether"):
        return Style(1.0, 1.25 if action == "Walking" else 0.95, "no", "swing", 8)
    if action == "WalkDog":
        return Style(1.0, 1.0, "no", "leash", 20)
    if action in ("Sitting", "Eating"):
        return Style(0.0, 0.0, "always", "talk" if action == "Sitting" else "eat", 30)
    if action == "SittingDown":
        return Style(0.0, 0.0, "transitions", "talk", 40)
    if action in ("Directions", "Discussion"):
        return Style(0.3, 0.8, "no", "talk", 15)
    if action == "Greeting":
        return Style(0.3, 0.9, "no", "greet", 35)
    if action == "Phoning":
        return Style(0.3, 0.8, "no", "phone", 10)
    if action == "Photo":
        return Style(0.2, 0.8, "no", "photo", 30)
    if action == "Posing":
        return Style(0.1, 0.7, "no", "pose", 25)
    if action == "Purchases":
        return Style(0.3, 0.8, "no", "reach", 60)
    if action == "Smoking":
        return Style(0.15, 0.7, "no", "eat", 10)
    if action == "Waiting":
        return Style(0.2, 0.7, "no", "wait", 20)
    raise ValueError(f"unknown Human3.6M action {action!r}")


# ---------------------------------------------------------------------------------------------
# Small numeric helpers


def _rot(axis: int, a: np.ndarray) -> np.ndarray:
    """(N,) angles -> (N, 3, 3) right-handed rotations about axis 0 (x), 1 (y) or 2 (z)."""
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    m = np.zeros(a.shape + (3, 3))
    i, k = ((1, 2), (2, 0), (0, 1))[axis]
    m[..., axis, axis] = 1.0
    m[..., i, i], m[..., k, k], m[..., i, k], m[..., k, i] = c, c, -s, s
    return m


def _apply(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations times a (3,) or (N, 3) vector -> (N, 3)."""
    return np.einsum("nij,nj->ni", r, np.broadcast_to(v, (r.shape[0], 3)))


def smooth_noise(rng: np.random.Generator, n: int, max_hz: float, amplitude: float) -> np.ndarray:
    """(n,) smooth random signal: 6 sinusoids below `max_hz`, standard deviation ~amplitude."""
    t = np.arange(n) / FPS
    out = np.zeros(n)
    for _ in range(6):
        f = rng.uniform(0.05, max_hz)
        out += rng.normal() * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    return out * amplitude / np.sqrt(3.0)


def _limit(x: np.ndarray, name: str) -> np.ndarray:
    """Smooth clamp of radians into LIMITS_DEG[name] (identity well inside the range)."""
    lo, hi = np.radians(LIMITS_DEG[name])
    soft = 0.1 * (hi - lo)
    x = np.where(x > hi - soft, hi - soft + soft * np.tanh((x - hi + soft) / soft), x)
    return np.where(x < lo + soft, lo + soft - soft * np.tanh((lo + soft - x) / soft), x)


def pose_to_pose(rng: np.random.Generator, n: int, sample: Callable[[], np.ndarray],
                 hold: tuple[float, float], move: tuple[float, float]) -> np.ndarray:
    """(n, D) track that holds random targets from `sample()` and eases between them.

    hold/move: ranges in seconds of the time a target is held and of each transition.
    """
    first = np.asarray(sample(), dtype=np.float64)
    out = np.empty((n, first.size))
    cur, i = first, 0
    while i < n:
        k = min(n - i, max(1, int(rng.uniform(*hold) * FPS)))
        out[i : i + k] = cur
        i += k
        nxt = np.asarray(sample(), dtype=np.float64)
        k = min(n - i, max(1, int(rng.uniform(*move) * FPS)))
        w = 0.5 - 0.5 * np.cos(np.pi * np.arange(1, k + 1) / max(k, 1))
        out[i : i + k] = cur + w[:, None] * (nxt - cur)
        i += k
        cur = nxt
    return out


# ---------------------------------------------------------------------------------------------
# Where a person may stand: inside every camera's view


class CaptureRegion:
    """Floor positions from which a standing person is fully inside every camera image."""

    def __init__(self, cameras: list[Camera], margin: float = 0.06, body_radius: float = 500.0,
                 body_height: float = 1950.0) -> None:
        self.cameras = cameras
        self.margin, self.radius, self.top = margin, body_radius, body_height
        ang = np.linspace(0.0, 2 * np.pi, 8, endpoint=False)
        ring = np.stack([np.cos(ang), np.sin(ang)], -1) * body_radius
        self._probe = np.concatenate([np.c_[ring, np.zeros(8)], np.c_[ring, np.full(8, body_height)]])
        self.center = self._axes_center()

    def _axes_center(self) -> np.ndarray:
        """Floor point closest (least squares) to all optical axes."""
        a, b = np.zeros((3, 3)), np.zeros(3)
        for cam in self.cameras:
            d = cam.extrinsics.rotation[:, 2]
            p = np.eye(3) - np.outer(d, d)
            a += p
            b += p @ np.asarray(cam.extrinsics.translation)
        return np.linalg.solve(a, b)[:2]

    def contains(self, xy: np.ndarray) -> bool:
        """True when a body cylinder standing at floor point xy (mm) is inside every view."""
        pts = self._probe + np.array([xy[0], xy[1], 0.0])
        for cam in self.cameras:
            pc = world_to_camera(pts, cam.extrinsics)
            if np.any(pc[:, 2] < 500.0):
                return False
            uv = project(pc, cam.intrinsics)
            w, h = cam.intrinsics.width, cam.intrinsics.height
            m = self.margin
            if np.any(uv[:, 0] < m * w) or np.any(uv[:, 0] > (1 - m) * w):
                return False
            if np.any(uv[:, 1] < m * h) or np.any(uv[:, 1] > (1 - m) * h):
                return False
        return True

    def sample(self, rng: np.random.Generator, tries: int = 200) -> np.ndarray:
        """A random floor point (x, y) mm inside the region (the centre if none is found)."""
        for _ in range(tries):
            p = self.center + rng.uniform(-1800.0, 1800.0, 2)
            if self.contains(p):
                return p
        return self.center.copy()


# ---------------------------------------------------------------------------------------------
# Motion tracks


def _locomotion(rng: np.random.Generator, n: int, style: Style, region: CaptureRegion
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Root path: (n, 2) floor position mm, (n,) yaw rad, (n,) speed m/s.

    Walks between random waypoints inside the region (turn rate limited), stands and turns in
    place in between; the time spent walking follows `style.move_fraction`.
    """
    dt = 1.0 / FPS
    pos = region.sample(rng)
    yaw = rng.uniform(-np.pi, np.pi)
    target, target_yaw = region.sample(rng), yaw
    moving = rng.uniform() < style.move_fraction
    speed = 0.0
    xy, yaws, speeds = np.empty((n, 2)), np.empty(n), np.empty(n)
    for i in range(n):
        if style.move_fraction < 1.0 and rng.uniform() < dt / (2.5 if moving else 3.0):
            moving = rng.uniform() < style.move_fraction
            if moving:
                target = region.sample(rng)
        if moving:
            d = target - pos
            if np.hypot(*d) < 300.0:
                target = region.sample(rng)
                d = target - pos
            want = np.arctan2(d[1], d[0])
        else:
            if rng.uniform() < dt / 2.0:
                target_yaw = yaw + rng.uniform(-1.5, 1.5)
            want = target_yaw
        err = (want - yaw + np.pi) % (2 * np.pi) - np.pi
        yaw += float(np.clip(err, -2.0 * dt, 2.0 * dt))
        goal = style.speed * max(0.0, np.cos(err)) ** 2 if moving else 0.0
        speed += (goal - speed) * min(1.0, dt / 0.4)
        step = np.array([np.cos(yaw), np.sin(yaw)]) * speed * 1000.0 * dt
        if region.contains(pos + step) or not region.contains(pos):
            pos = pos + step
        else:  # about to leave the views: stop and pick a new waypoint
            speed *= 0.5
            target = region.sample(rng)
        xy[i], yaws[i], speeds[i] = pos, yaw, speed
    return xy, yaws, speeds


def _arm_target(style: str, rng: np.random.Generator, active: bool) -> np.ndarray:
    """One random arm pose (shoulder flex, abduction, internal rotation, elbow), degrees."""
    u = rng.uniform
    rest = [u(-5, 15), u(5, 15), u(-10, 20), u(5, 30)]
    if style in ("swing", "leash") and not active:
        return np.array(rest)
    if style == "leash":
        return np.array([u(25, 45), u(5, 20), u(0, 20), u(20, 50)])
    if style == "talk":
        return np.array([u(10, 60), u(5, 35), u(0, 50), u(40, 110)] if active or u() < 0.4 else rest)
    if style == "phone":
        return np.array([u(25, 45), u(30, 55), u(40, 70), u(135, 148)] if active else rest)
    if style == "photo":
        return np.array([u(60, 80), u(15, 35), u(30, 55), u(110, 135)] if u() < 0.7 else rest)
    if style == "eat":
        return np.array([u(30, 50), u(10, 30), u(30, 60), u(125, 145)] if active and u() < 0.5
                        else [u(10, 30), u(5, 20), u(10, 30), u(50, 90)])
    if style == "greet":
        if active and u() < 0.5:
            return np.array([u(20, 40), u(90, 130), u(-30, 30), u(40, 90)])
        return np.array([u(40, 60), u(5, 15), u(0, 20), u(20, 50)] if active else rest)
    if style == "pose":
        return np.array([u(-20, 100), u(20, 150), u(-20, 40), u(0, 100)] if u() < 0.7 else rest)
    if style == "wait":
        choice = u()
        if choice < 0.35:  # hands on hips
            return np.array([u(-20, -5), u(35, 50), u(50, 70), u(90, 110)])
        if choice < 0.6:   # arms crossed
            return np.array([u(30, 45), u(5, 15), u(70, 85), u(110, 125)])
        return np.array(rest)
    if style == "reach":
        return np.array([u(50, 100), u(5, 25), u(0, 20), u(5, 40)] if u() < 0.6 else rest)
    return np.array(rest)


def _sitting_blend(rng: np.random.Generator, n: int, mode: str) -> np.ndarray:
    """(n,) 0 = standing, 1 = seated; smooth 1.2 s transitions for 'transitions'."""
    if mode == "always":
        return np.ones(n)
    if mode == "no":
        return np.zeros(n)
    state = [rng.uniform() < 0.5]

    def toggle() -> np.ndarray:
        state[0] = not state[0]
        return np.array([float(state[0])])

    return pose_to_pose(rng, n, toggle, (1.5, 4.0), (1.0, 1.5))[:, 0]


def angle_tracks(rng: np.random.Generator, n: int, style: Style, shape: BodyShape,
                 region: CaptureRegion) -> dict[str, np.ndarray]:
    """All joint-angle tracks (radians) plus root position (mm) and the sitting blend."""
    d = np.radians
    sit = _sitting_blend(rng, n, style.sitting)
    if style.sitting == "no":
        xy, yaw, speed = _locomotion(rng, n, style, region)
    else:
        xy = np.repeat(region.sample(rng)[None], n, 0)
        yaw = np.full(n, rng.uniform(-np.pi, np.pi)) + smooth_noise(rng, n, 0.1, d(4))
        speed = np.zeros(n)
    tr: dict[str, np.ndarray] = {"x": xy[:, 0], "y": xy[:, 1], "yaw": yaw, "sit": sit}
    leg = shape.thigh + shape.shank
    phase = np.cumsum(2 * np.pi * speed * 1000.0 / (1.7 * leg) / FPS) + rng.uniform(0, 2 * np.pi)
    amp = np.clip(speed / 1.1, 0.0, 1.0)
    bump = 4.0 * sit * (1.0 - sit)  # leaning forward while sitting down / getting up
    bend = pose_to_pose(rng, n, lambda: [rng.uniform() ** 2], (1.0, 4.0), (0.6, 1.5))[:, 0]
    tr["spine_flex"] = d(style.bend_deg) * bend * (1 - amp) + d(35) * bump + d(8) * sit \
        + smooth_noise(rng, n, 0.4, d(4))
    tr["spine_lat"] = smooth_noise(rng, n, 0.3, d(4))
    tr["spine_twist"] = smooth_noise(rng, n, 0.3, d(10)) - amp * d(7) * np.sin(phase)
    tr["neck_flex"] = smooth_noise(rng, n, 0.4, d(10)) + d(5)
    tr["neck_lat"] = smooth_noise(rng, n, 0.3, d(5))
    tr["neck_twist"] = pose_to_pose(rng, n, lambda: [rng.normal(0, d(25))], (1.0, 3.0), (0.4, 0.9))[:, 0]
    tr["pitch"] = smooth_noise(rng, n, 0.3, d(3)) + 0.4 * tr["spine_flex"] * (1 - sit)
    tr["roll"] = smooth_noise(rng, n, 0.3, d(2)) + amp * d(3) * np.sin(2 * phase)
    active_side = "l" if rng.uniform() < 0.5 else "r"
    for side in _SIDES:
        ph = phase + (0.0 if side == "l" else np.pi)
        stand_flex = d(4) + smooth_noise(rng, n, 0.3, d(4) * (1 - 0.6 * amp)) + tr["pitch"]
        hip = amp * d(20) * np.sin(ph) + stand_flex
        knee = d(5) + amp * d(60) * ((1 + np.cos(ph + 0.25 * np.pi)) / 2) ** 2.5 \
            + np.abs(smooth_noise(rng, n, 0.3, d(4)))
        seat_flex = d(88) + tr["pitch"] + smooth_noise(rng, n, 0.2, d(1.5))
        seat_knee = d(85) + smooth_noise(rng, n, 0.2, d(8))
        tr[f"hip_flex_{side}"] = hip * (1 - sit) + seat_flex * sit
        tr[f"knee_{side}"] = knee * (1 - sit) + seat_knee * sit
        tr[f"hip_abd_{side}"] = d(3) + smooth_noise(rng, n, 0.3, d(3)) + sit * d(8)
        tr[f"hip_rot_{side}"] = smooth_noise(rng, n, 0.2, d(6)) + sit * d(5)
        flat = seat_flex - tr["pitch"] - seat_knee  # seated: shank tilt, undone at the ankle (foot flat)
        tr[f"ankle_{side}"] = amp * d(10) * np.sin(ph - 0.5 * np.pi) + smooth_noise(rng, n, 0.3, d(3)) \
            - sit * flat
        active = side == active_side
        arms = pose_to_pose(rng, n, lambda active=active: d(_arm_target(style.arms, rng, active)), (0.8, 3.0), (0.4, 1.0))
        swing = amp * d(22) * np.sin(ph + np.pi) * (0.3 if style.arms == "leash" and active else 1.0)
        tr[f"sh_flex_{side}"] = arms[:, 0] + swing + smooth_noise(rng, n, 0.5, d(4))
        tr[f"sh_abd_{side}"] = arms[:, 1] + smooth_noise(rng, n, 0.5, d(3))
        tr[f"sh_rot_{side}"] = arms[:, 2] + smooth_noise(rng, n, 0.5, d(5))
        wave = d(20) * np.sin(2 * np.pi * 1.8 * np.arange(n) / FPS) if style.arms == "greet" and active else 0.0
        tr[f"elbow_{side}"] = arms[:, 3] + amp * d(15) * (1 + np.sin(ph + np.pi)) / 2 \
            + smooth_noise(rng, n, 0.5, d(5)) + wave
        tr[f"wrist_{side}"] = smooth_noise(rng, n, 0.5, d(12))
    for key in list(tr):
        base = key[:-2] if key[-2:] in ("_l", "_r") else key
        if base in LIMITS_DEG:
            tr[key] = _limit(tr[key], base)
    return tr
