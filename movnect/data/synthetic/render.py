"""Drawing the synthetic person (and chair) into a camera image.

The body is a set of shaded primitives: tapered capsules for limbs, convex hulls of
cross-section rings for the torso, spheres for the head and hair, boxes for the chair. Every
3D point goes through camera.project (with distortion), primitives are drawn far to near
(painter's algorithm on camera depth), and each is shaded as a cylinder (dark rim, body colour,
a highlight toward the light). Left limbs and right limbs wear clearly different colours, the
shirt has a front-only emblem and the face is drawn only when it faces the camera, so left/right
and front/back can be told apart from the pixels. Images are BGR uint8.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from movnect.camera import Camera, project, world_to_camera
from movnect.data.synthetic.motion import BodyShape, Chair, Motion

Color = tuple[float, float, float]  # BGR
_SHIFT = 4                          # fixed-point bits for sub-pixel OpenCV drawing
_ONE = 1 << _SHIFT
_LIGHT = np.array([-0.45, -0.89])   # screen-space direction toward the light (up, a bit left)


@dataclass(frozen=True)
class Appearance:
    skin: Color
    hair: Color
    shirt: Color
    pants: Color    # pelvis / lower torso
    emblem: Color
    left: Color     # left sleeve and trouser leg
    right: Color    # right sleeve and trouser leg
    shoes: Color
    chair: Color
    long_sleeves: bool


def _hsv(h: float, s: float, v: float) -> Color:
    px = np.uint8([[[int(h) % 180, int(s), int(v)]]])
    return tuple(float(c) for c in cv2.cvtColor(px, cv2.COLOR_HSV2BGR)[0, 0])  # type: ignore[return-value]


def sample_appearance(rng: np.random.Generator) -> Appearance:
    """Random clothes and skin; left limbs in warm hues (red-yellow), right in cool (green-blue)."""
    u = rng.uniform
    skin_v = u(90, 235)
    return Appearance(
        skin=_hsv(u(5, 18), u(70, 150), skin_v), hair=_hsv(u(5, 25), u(40, 200), u(15, 110)),
        shirt=_hsv(u(0, 180), u(0, 160), u(60, 230)), pants=_hsv(u(0, 180), u(0, 120), u(30, 120)),
        emblem=_hsv(u(0, 180), u(150, 255), u(190, 255)),
        left=_hsv(u(-8, 25), u(150, 240), u(130, 230)), right=_hsv(u(85, 125), u(150, 240), u(110, 220)),
        shoes=_hsv(u(0, 180), u(0, 80), u(20, 80)), chair=_hsv(u(5, 25), u(60, 200), u(50, 140)),
        long_sleeves=bool(u() < 0.5),
    )


def _shade(c: Color, f: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(v * f, 0, 255)) for v in c)  # type: ignore[return-value]


def _fx(p: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(p) * _ONE).astype(np.int32)


def _capsule(img: np.ndarray, a: np.ndarray, b: np.ndarray, ra: float, rb: float, color: Color) -> None:
    """Shaded tapered capsule between pixel points a and b with end radii ra, rb (px)."""
    d = b - a
    length = float(np.hypot(*d))
    normal = np.array([-d[1], d[0]]) / length if length > 1e-6 else np.array([0.0, 1.0])
    lit = normal if normal @ _LIGHT >= 0 else -normal
    layers = ((1.0, 0.0, 0.55), (0.8, 0.0, 1.0), (0.35, 0.32, 1.3))
    for scale, offset, f in layers:
        col = _shade(color, f)
        ca, cb = a + lit * offset * ra, b + lit * offset * rb
        r0, r1 = max(ra * scale, 0.4), max(rb * scale, 0.4)
        quad = np.array([ca + normal * r0, cb + normal * r1, cb - normal * r1, ca - normal * r0])
        cv2.fillConvexPoly(img, _fx(quad), col, cv2.LINE_AA, _SHIFT)
        cv2.circle(img, tuple(_fx(ca)), int(r0 * _ONE), col, -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(img, tuple(_fx(cb)), int(r1 * _ONE), col, -1, cv2.LINE_AA, _SHIFT)


def _hull(img: np.ndarray, pts: np.ndarray, color: Color, highlight: bool = True) -> None:
    """Shaded filled convex hull of (K, 2) pixel points."""
    hull = cv2.convexHull(_fx(pts).reshape(-1, 1, 2))
    cv2.fillConvexPoly(img, hull, _shade(color, 0.55), cv2.LINE_AA, _SHIFT)
    c = pts.mean(axis=0)
    inner = c + (pts - c) * 0.88
    cv2.fillConvexPoly(img, cv2.convexHull(_fx(inner).reshape(-1, 1, 2)), _shade(color, 1.0), cv2.LINE_AA, _SHIFT)
    if highlight:
        span = np.ptp(pts, axis=0).max()
        hi = c + (pts - c) * 0.45 + _LIGHT * 0.18 * span
        cv2.fillConvexPoly(img, cv2.convexHull(_fx(hi).reshape(-1, 1, 2)), _shade(color, 1.18), cv2.LINE_AA, _SHIFT)


def _disc(img: np.ndarray, c: np.ndarray, r: float, color: Color) -> None:
    """Shaded sphere of radius r px at c."""
    cv2.circle(img, tuple(_fx(c)), int(r * _ONE), _shade(color, 0.6), -1, cv2.LINE_AA, _SHIFT)
    cv2.circle(img, tuple(_fx(c + _LIGHT * 0.06 * r)), int(0.9 * r * _ONE), _shade(color, 1.0), -1, cv2.LINE_AA, _SHIFT)
    cv2.circle(img, tuple(_fx(c + _LIGHT * 0.35 * r)), int(0.4 * r * _ONE), _shade(color, 1.15), -1, cv2.LINE_AA, _SHIFT)


def _ring(center: np.ndarray, rot: np.ndarray, half_width: float, half_depth: float, k: int = 10) -> np.ndarray:
    """(k, 3) points of a horizontal body cross-section ellipse (forward/left axes of rot)."""
    a = np.linspace(0, 2 * np.pi, k, endpoint=False)
    return center + np.outer(np.cos(a) * half_depth, rot[:, 0]) + np.outer(np.sin(a) * half_width, rot[:, 1])


# Limbs: (joint a, joint b, radius attribute at a, at b (scale), colour key).
_LIMBS = (
    (1, 2, "thigh_radius", 0.75, "right"), (2, 3, "shank_radius", 0.7, "right"),
    (6, 7, "thigh_radius", 0.75, "left"), (7, 8, "shank_radius", 0.7, "left"),
    (25, 26, "arm_radius", 0.85, "right"), (26, 27, "forearm_radius", 0.8, "right_fore"),
    (17, 18, "arm_radius", 0.85, "left"), (18, 19, "forearm_radius", 0.8, "left_fore"),
    (27, 30, "forearm_radius", 0.9, "skin"), (19, 22, "forearm_radius", 0.9, "skin"),
    (13, 14, "arm_radius", 1.0, "skin"),
)


# Face landmarks on the head sphere: offsets in head axes (forward, left, up), head radii.
FACE_OFFSETS: dict[str, np.ndarray] = {
    "nose": np.array([0.97, 0.0, -0.12]),
    "left_eye": np.array([0.85, 0.35, 0.12]), "right_eye": np.array([0.85, -0.35, 0.12]),
    "left_ear": np.array([-0.05, 0.97, 0.0]), "right_ear": np.array([-0.05, -0.97, 0.0]),
}


def head_center(joints: np.ndarray, head_rot: np.ndarray, shape: BodyShape) -> np.ndarray:
    """(3,) world mm centre of the drawn head sphere, from one frame's (32, 3) joints and head axes."""
    return joints[14] + 0.55 * (joints[15] - joints[14]) - 0.15 * shape.head_radius * head_rot[:, 0]


def faces_camera(motion: Motion, frame: int, shape: BodyShape, camera: Camera) -> bool:
    """Whether the face (eyes, mouth) is drawn for this frame and camera."""
    rn = motion.head_rot[frame]
    head_c = head_center(motion.joints[frame], rn, shape)
    return bool(rn[:, 0] @ _unit(camera_center(camera) - head_c) > 0.15)


def render_person(img: np.ndarray, motion: Motion, frame: int, shape: BodyShape,
                  look: Appearance, camera: Camera) -> None:
    """Draw person (and chair) of `motion` at `frame` into BGR `img` (H, W, 3) in place."""
    j = motion.joints[frame]
    rp, ru, rn = motion.pelvis_rot[frame], motion.torso_rot[frame], motion.head_rot[frame]
    s = shape
    head_c = head_center(j, rn, s)
    hair_c = head_c - 0.22 * s.head_radius * rn[:, 0] + 0.12 * s.head_radius * rn[:, 2]
    foot = {side: (j[a] - np.array([0, 0, 0.6 * s.ankle_height]), j[t]) for side, a, t in (("r", 3, 4), ("l", 8, 9))}
    lower = np.concatenate([_ring(j[0], rp, s.hip_half + 0.8 * s.thigh_radius, s.torso_depth * 0.9),
                            _ring(0.5 * (j[0] + j[12]), ru, s.waist_half, s.torso_depth)])
    upper = np.concatenate([_ring(0.5 * (j[0] + j[12]), ru, s.waist_half, s.torso_depth),
                            _ring(j[12] + 0.6 * (j[13] - j[12]), ru, s.chest_half, s.torso_depth * 1.1),
                            _ring(j[13], ru, s.shoulder_half * 0.85, s.torso_depth * 0.8)])
    chest_front = j[12] + 0.55 * (j[13] - j[12]) + ru[:, 0] * s.torso_depth * 1.05
    emblem = chest_front + np.outer([-1, 1, 1, -1], ru[:, 1] * 0.35 * s.chest_half) \
        + np.outer([1, 1, -1, -1], ru[:, 2] * 0.12 * s.spine_up)
    eyes = [head_c + rn @ FACE_OFFSETS[k] * s.head_radius for k in ("left_eye", "right_eye")]
    mouth = head_c + rn @ np.array([0.9, 0.0, -0.38]) * s.head_radius
    chair_pts = _chair_points(motion.chair) if motion.chair is not None else np.zeros((0, 3))
    pts = np.concatenate([j, lower, upper, emblem, np.stack([head_c, hair_c, *eyes, mouth]),
                          np.stack([p for ab in foot.values() for p in ab]), chair_pts])
    cam = world_to_camera(pts, camera.extrinsics)
    if np.any(cam[:, 2] < 100.0):
        return  # the person is (partly) behind the camera: nothing sensible to draw
    _shadow(img, j[0], rp, s, camera)
    uv = project(cam, camera.intrinsics)
    z = cam[:, 2]
    fpx = camera.intrinsics.focal[0]
    px = lambda r, k: r * fpx / z[k]  # noqa: E731  radius in mm at point k -> pixels
    o_low, o_up = 32, 32 + lower.shape[0]
    o_emb = o_up + upper.shape[0]
    o_head = o_emb + 4
    o_foot = o_head + 5
    o_chair = o_foot + 4
    colors = {"left": look.left, "right": look.right, "skin": look.skin,
              "left_fore": look.left if look.long_sleeves else look.skin,
              "right_fore": look.right if look.long_sleeves else look.skin}
    items: list[tuple[float, int, tuple]] = []
    for a, b, attr, taper, key in _LIMBS:
        r = getattr(s, attr)
        bias = 40.0 if a in (1, 2, 6, 7) else (30.0 if a == 13 else -50.0)  # legs/neck behind, arms in front
        items.append((0.5 * (z[a] + z[b]) + bias, 0, (uv[a], uv[b], px(r, a), px(r * taper, b), colors[key])))
    for k in range(2):  # right foot, then left
        ia, it = o_foot + 2 * k, o_foot + 2 * k + 1
        items.append((0.5 * (z[ia] + z[it]), 0, (uv[ia], uv[it], px(0.6 * s.shank_radius, ia),
                                                  px(0.45 * s.shank_radius, it), look.shoes)))
    items.append((float(z[o_low:o_up].mean()), 1, (uv[o_low:o_up], look.pants)))
    items.append((float(z[o_up:o_emb].mean()), 1, (uv[o_up:o_emb], look.shirt)))
    facing = faces_camera(motion, frame, shape, camera)
    chest_facing = (ru[:, 0] @ _unit(camera_center(camera) - chest_front)) > 0.2
    if chest_facing:
        items.append((float(z[o_up:o_emb].mean()) - 1.0, 3, (uv[o_emb:o_emb + 4], look.emblem)))
    items.append((float(z[o_head]), 2, (uv[o_head], px(s.head_radius, o_head), look.skin,
                                        uv[o_head + 2:o_head + 5] if facing else None)))
    items.append((float(z[o_head + 1]), 2, (uv[o_head + 1], px(0.97 * s.head_radius, o_head + 1), look.hair, None)))
    if motion.chair is not None:
        _chair_items(items, uv[o_chair:], z[o_chair:], look.chair, fpx)
    for _, kind, data in sorted(items, key=lambda it: -it[0]):
        if kind == 0:
            _capsule(img, *data)
        elif kind == 1:
            _hull(img, *data)
        elif kind == 3:
            cv2.fillConvexPoly(img, _fx(data[0]), _shade(data[1], 1.0), cv2.LINE_AA, _SHIFT)
        elif kind == 4:
            _hull(img, data[0], data[1], highlight=False)
        else:
            c, r, col, face = data
            _disc(img, c, r, col)
            if face is not None:
                for e in face[:2]:
                    cv2.circle(img, tuple(_fx(e)), int(max(0.12 * r, 0.7) * _ONE), (30, 30, 30), -1, cv2.LINE_AA, _SHIFT)
                cv2.line(img, tuple(_fx(face[2] - [0.18 * r, 0])), tuple(_fx(face[2] + [0.18 * r, 0])),
                         _shade(col, 0.5), max(1, int(0.08 * r)), cv2.LINE_AA, _SHIFT)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def camera_center(camera: Camera) -> np.ndarray:
    """(3,) camera centre in world mm."""
    return np.asarray(camera.extrinsics.translation, dtype=np.float64)


def _chair_points(chair: Chair) -> np.ndarray:
    """(24, 3) world points: seat box (8), backrest box (8), 4 leg tops and 4 leg feet."""
    c, yaw, h, sz = np.array(chair.center), chair.yaw, chair.seat_height, chair.size
    f, l = np.array([np.cos(yaw), np.sin(yaw), 0.0]), np.array([-np.sin(yaw), np.cos(yaw), 0.0])
    base = np.array([c[0], c[1], 0.0])

    def box(cf: float, cl: float, z0: float, z1: float, hf: float, hl: float) -> list[np.ndarray]:
        return [base + f * (cf + a * hf) + l * (cl + b * hl) + np.array([0, 0, zz])
                for zz in (z0, z1) for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1))]

    seat = box(0, 0, h - 50, h, sz / 2, sz / 2)
    back = box(-sz / 2 + 20, 0, h, h + 450, 20, sz / 2)
    legs = [base + f * a * (sz / 2 - 30) + l * b * (sz / 2 - 30) + np.array([0, 0, zz])
            for zz in (h - 50, 0.0) for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    return np.array(seat + back + legs)


def _chair_items(items: list, uv: np.ndarray, z: np.ndarray, color: Color, fpx: float) -> None:
    """Chair primitives: legs and seat are drawn before the body (they lie beneath it)."""
    far = float(z.max()) + 1e4
    for k in range(4):
        r = 18.0 * fpx / z[16 + k]
        items.append((far + 1 - k * 1e-3, 0, (uv[16 + k], uv[20 + k], r, r, color)))
    items.append((far, 4, (uv[0:8], color)))
    items.append((float(z[8:16].mean()), 4, (uv[8:16], color)))


def _shadow(img: np.ndarray, pelvis: np.ndarray, rot: np.ndarray, s: BodyShape, camera: Camera) -> None:
    """Soft contact shadow: a darkened, blurred ellipse on the floor below the pelvis."""
    ground = np.array([pelvis[0], pelvis[1], 2.0])
    ring = _ring(ground, rot, s.hip_half * 2.6, s.torso_depth * 3.5, 16)
    ring[:, 2] = 2.0
    cam = world_to_camera(ring, camera.extrinsics)
    if np.any(cam[:, 2] < 100.0):
        return
    uv = project(cam, camera.intrinsics)
    pad = 6
    x0, y0 = np.floor(uv.min(0)).astype(int) - pad
    x1, y1 = np.ceil(uv.max(0)).astype(int) + pad
    h, w = img.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.fillConvexPoly(mask, _fx(uv - [x0, y0]), 1.0, cv2.LINE_AA, _SHIFT)
    k = max(3, int(0.15 * (x1 - x0)) | 1)
    mask = cv2.GaussianBlur(mask, (k, k), 0)
    roi = img[y0:y1, x0:x1]
    roi[:] = (roi * (1.0 - 0.45 * mask[..., None])).astype(np.uint8)
