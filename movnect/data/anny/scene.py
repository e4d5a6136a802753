"""Rooms, furniture, lights and cameras around a rendered person (world: metres, z up, floor z = 0).

Cameras (`sample_camera`), like the users' and Human3.6M's:
  webcam   640x480 or 1280x720, horizontal FOV 55-80 deg, 0.9-1.3 m high (a laptop or a
           monitor on a desk), 0.6-4.5 m away: close upper-body framings (aimed at the chest or
           face, legs out of the frame) are as common as full bodies
  phone    portrait 720x1280, horizontal FOV 40-55 deg, 0.8-1.7 m high, 1.3-5 m away, a few
           degrees of roll
  h36m     one of Human3.6M's four cameras with its real intrinsics (distortion dropped: the
           rasterizer is a pinhole) and a subject's real extrinsics, the person walking in the
           capture region of the motion generator
Rooms (`sample_room`): a box room (floor wood / tiles / carpet, painted or papered walls,
ceiling) turned to a random angle and sized to hold the camera and the person, with furniture
boxes along the walls (tables, shelves, cabinets), pictures (real photographs from
photos.py when scikit-image is installed, else procedural) and doors on the walls, a seat
when the motion sits, and sometimes an occluder between camera and person (a desk in front of
a webcam, a box or a chair back elsewhere). Lights (`sample_light`): hemisphere ambient and
one directional light of random direction, colour temperature and strength.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from movnect.camera import Camera, Extrinsics, Intrinsics, h36m_camera, h36m_camera_ids, h36m_subjects
from movnect.data.anny.appearance import CHECKS, DOTS, NOISE, PHOTO, SOLID, STRIPES, TILES, WOOD, linear

CAMERA_KINDS = ("webcam", "phone", *h36m_camera_ids())
# Share of webcam / phone views taken from any side of the person (else mostly from the front):
# a model that only saw frontal views of phone and webcam scenes called every real person seen
# from behind or the side frontal (multi-camera lab footage: predicted hip yaw within +-40 deg of
# facing the camera while the true yaw covered the circle). At 0.2 / 0.35 the renders were still
# 72 % frontal and the default (2026-12-03) called 99.8 % of the lab crops frontal; 0.75 makes
# them about 57 % frontal (lab cameras: any side), so "frontal" is no longer a safe guess.
WEBCAM_ANY_AZIMUTH_P = 0.75
PHONE_ANY_AZIMUTH_P = 0.75


def matrix_to_quaternion(r: np.ndarray) -> np.ndarray:
    """(3, 3) rotation -> (4,) unit quaternion (w, x, y, z), w >= 0."""
    r = np.asarray(r, dtype=np.float64)
    q = np.empty(4)
    t = np.trace(r)
    if t > 0:
        s = 2.0 * np.sqrt(1.0 + t)
        q[:] = (0.25 * s, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s)
    else:
        i = int(np.argmax(np.diag(r)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + r[i, i] - r[j, j] - r[k, k])
        q[0] = (r[k, j] - r[j, k]) / s
        q[1 + i], q[1 + j], q[1 + k] = 0.25 * s, (r[j, i] + r[i, j]) / s, (r[k, i] + r[i, k]) / s
    q = q / np.linalg.norm(q)
    return q if q[0] >= 0 else -q


def look_at(eye: np.ndarray, target: np.ndarray, roll: float = 0.0) -> np.ndarray:
    """(3, 3) world -> camera rotation (rows: x right, y down, z forward) looking from eye at target."""
    z = np.asarray(target, dtype=np.float64) - np.asarray(eye, dtype=np.float64)
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x = x / np.linalg.norm(x) if np.linalg.norm(x) > 1e-6 else np.array([1.0, 0.0, 0.0])
    y = np.cross(z, x)
    c, s = np.cos(roll), np.sin(roll)
    x, y = c * x + s * y, -s * x + c * y
    return np.stack([x, y, z])


def camera_from(kind: str, intr: Intrinsics, rot_wc: np.ndarray, centre_m: np.ndarray) -> Camera:
    """A movnect Camera (extrinsics in Human3.6M's convention, mm) from a world->camera rotation."""
    return Camera(kind, intr, Extrinsics(tuple(matrix_to_quaternion(rot_wc.T)), tuple(np.asarray(centre_m) * 1000.0)))


def sample_camera(rng: np.random.Generator, kind: str, person: np.ndarray, facing: float,
                  stature: float) -> Camera:
    """A camera of `kind` (CAMERA_KINDS) for a person whose pelvis is at `person` (3,) m, facing yaw."""
    if kind in ("webcam", "phone"):
        if kind == "webcam":
            w, h = ((640, 480), (1280, 720))[int(rng.integers(2))]
            hfov = np.radians(rng.uniform(55, 80))
            height = rng.uniform(0.9, 1.3)
            framing = rng.choice(["close", "medium", "full"], p=[0.35, 0.35, 0.3])
            dist = {"close": (0.6, 1.2), "medium": (1.2, 2.4), "full": (2.4, 4.5)}[framing]
            az = rng.normal(0.0, np.radians(25)) if rng.uniform() > WEBCAM_ANY_AZIMUTH_P else rng.uniform(-np.pi, np.pi)
            roll = rng.normal(0.0, np.radians(2))
        else:
            w, h = 720, 1280
            hfov = np.radians(rng.uniform(40, 55))
            height = rng.uniform(0.8, 1.7)
            framing = rng.choice(["medium", "full"], p=[0.3, 0.7])
            dist = {"medium": (1.3, 2.5), "full": (2.5, 5.0)}[framing]
            az = rng.normal(0.0, np.radians(50)) if rng.uniform() > PHONE_ANY_AZIMUTH_P else rng.uniform(-np.pi, np.pi)
            roll = rng.normal(0.0, np.radians(4))
        f = (w / 2.0) / np.tan(hfov / 2.0)
        intr = Intrinsics((f, f), ((w - 1) / 2.0 + rng.normal(0, 3), (h - 1) / 2.0 + rng.normal(0, 3)), width=w, height=h)
        d = rng.uniform(*dist)
        ang = facing + az
        eye = np.array([person[0] + d * np.cos(ang), person[1] + d * np.sin(ang), height])
        aim_z = {"close": 0.82, "medium": 0.62, "full": 0.5}[str(framing)] * stature + rng.normal(0, 0.05)
        target = np.array([person[0], person[1], aim_z]) + rng.normal(0, 0.08, 3) * [1, 1, 0]
        return camera_from(kind, intr, look_at(eye, target, roll), eye)
    if kind not in CAMERA_KINDS:
        raise ValueError(f"unknown camera kind {kind!r}; choose from {', '.join(CAMERA_KINDS)}")
    subjects = h36m_subjects()
    cam = h36m_camera(subjects[int(rng.integers(len(subjects)))], kind)
    ext = Extrinsics(cam.extrinsics.orientation, cam.extrinsics.translation)
    return Camera(kind, cam.intrinsics.without_distortion(), ext)


# ---------------------------------------------------------------------------------------------
# Geometry: boxes as triangle lists with flat normals


def box(center: np.ndarray, size: np.ndarray, yaw: float, material: int, inward: bool = False
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """An oriented box: (positions (24, 3), normals (24, 3), material (24,), faces (12, 3)).

    center: (x, y, z of the bottom face centre); size: (length, depth, height) m; inward:
    normals point inside (a room).
    """
    c, s = np.cos(yaw), np.sin(yaw)
    r = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    hx, hy, hz = np.asarray(size, dtype=np.float64) / 2.0
    pos, nrm, faces = [], [], []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            n = np.zeros(3)
            n[axis] = sign
            u, v = [a for a in range(3) if a != axis]
            quad = []
            for du, dv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                p = np.zeros(3)
                p[axis], p[u], p[v] = sign, du, dv
                quad.append(p * [hx, hy, hz] + [0.0, 0.0, hz])
            k = len(pos)
            pos += quad
            nrm += [n] * 4
            faces += [(k, k + 1, k + 2), (k, k + 2, k + 3)]
    pos = np.asarray(pos) @ r.T + np.asarray(center)
    nrm = np.asarray(nrm) @ r.T * (-1.0 if inward else 1.0)
    return pos, nrm, np.full(len(pos), material, dtype=np.float64), np.asarray(faces, dtype=np.int32)


@dataclass
class Room:
    """Static scene geometry (world m) and its material table rows (slots from `first_slot`)."""

    positions: np.ndarray
    normals: np.ndarray
    material: np.ndarray
    faces: np.ndarray
    materials: dict[str, np.ndarray]
    floor_rgb: np.ndarray
    tex: np.ndarray          # (N, 3) texture coordinates: world position, or (u, v, 5) on pictures


# UV of `box`'s 24 vertices: each face's two in-plane axes in order, 0..1
_BOX_UV = np.tile(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), (6, 1))


def _mat(rng: np.random.Generator, kind: str, photos: tuple[str, ...] = ()
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    u = rng.uniform()
    pictures = [i for i, n in enumerate(photos) if n != "brick"]
    if kind == "picture" and pictures and rng.uniform() < 0.6:   # a photograph, lightly tinted
        tint = np.clip(1.0 + rng.normal(0, 0.05, 3), 0.8, 1.1)
        return tint, tint, np.array([PHOTO, 1.0, 0.05, float(rng.choice(pictures))]), np.array([0.0, 0.0, 1.0])
    a = rng.uniform(0, 255, 3)
    up = np.array([0.0, 0.0, 1.0])
    if kind == "floor":
        if u < 0.45:   # wooden boards
            base = np.array([150, 105, 65]) * rng.uniform(0.5, 1.3) + rng.normal(0, 10, 3)
            return linear(np.clip(base, 0, 255)), linear(np.clip(base * 0.7, 0, 255)), \
                np.array([WOOD, rng.uniform(3, 8), 0.15, rng.uniform(0, 9)]), np.array([1.0, 0, 0])
        if u < 0.75:   # tiles
            base = rng.uniform(120, 240) * np.ones(3) + rng.normal(0, 15, 3)
            return linear(np.clip(base, 0, 255)), linear(np.clip(base * 0.6, 0, 255)), \
                np.array([TILES, rng.uniform(1.5, 4), 0.2, rng.uniform(0, 9)]), np.array([1.0, 0, 0])
        base = a * 0.6 + 40
        return linear(base), linear(base * 0.75), np.array([NOISE, rng.uniform(20, 60), 0.0, rng.uniform(0, 9)]), up
    if kind == "wall":
        base = np.clip(rng.uniform(150, 245) * np.ones(3) + rng.normal(0, 25, 3), 0, 255)
        if "brick" in photos and u > 0.88:   # a brick wall (photo texture, 1-2 m per repeat)
            tint = np.clip(linear(base) * 1.6, 0.3, 1.2)
            return tint, tint, np.array([PHOTO, 1.0 / rng.uniform(1.0, 2.0), 0.0, float(photos.index("brick"))]), \
                np.array([1.0, 0.0, 0.0])
        if u < 0.2:
            base = np.clip(a * 0.7 + 60, 0, 255)
        if u < 0.85:
            return linear(base), linear(base * 0.93), np.array([NOISE, rng.uniform(5, 20), 0.0, rng.uniform(0, 9)]), up
        return linear(base), linear(base * rng.uniform(0.75, 0.9)), np.array([STRIPES, rng.uniform(4, 12), 0.0, 0]), \
            np.array([1.0, 1.0, 0.0])
    if kind == "furniture":
        if u < 0.5:
            base = np.array([140, 95, 60]) * rng.uniform(0.4, 1.4)
            return linear(np.clip(base, 0, 255)), linear(np.clip(base * 0.75, 0, 255)), \
                np.array([WOOD, rng.uniform(4, 10), 0.2, rng.uniform(0, 9)]), np.array([1.0, 0, 0])
        return linear(a), linear(a * 0.85), np.array([NOISE, rng.uniform(10, 40), 0.1, rng.uniform(0, 9)]), up
    # picture / poster
    b = rng.uniform(0, 255, 3)
    kinds = [(STRIPES, 8, 30), (CHECKS, 6, 20), (DOTS, 10, 30), (NOISE, 3, 10), (SOLID, 1, 1)]
    k, lo, hi = kinds[int(rng.integers(len(kinds)))]
    return linear(a), linear(b), np.array([k, rng.uniform(lo, hi), 0.1, rng.uniform(0, 9)]), np.array([1.0, 0.0, 1.0])


def sample_room(rng: np.random.Generator, camera_centres: np.ndarray, person_xy: np.ndarray,
                keep_clear: float, seat: tuple[float, float, float, float] | None,
                occluder: tuple[np.ndarray, np.ndarray] | None, first_slot: int,
                photos: tuple[str, ...] = ()) -> Room:
    """A furnished room containing the cameras (K, 3) m and the person's floor path (T, 2) m.

    keep_clear: no furniture within this distance of the path; occluder: (camera centre (3,),
    person point (3,)) to maybe put a box between them; photos: names of the photo texture
    layers (photos.load_photos), used for pictures and brick walls.
    """
    yaw = rng.uniform(-np.pi, np.pi)
    c, s = np.cos(yaw), np.sin(yaw)
    to_room = np.array([[c, s], [-s, c]])           # world xy -> room axes
    pts = np.concatenate([np.asarray(camera_centres)[:, :2], np.asarray(person_xy)]) @ to_room.T
    lo = pts.min(axis=0) - rng.uniform(0.4, 2.5, 2)
    hi = pts.max(axis=0) + rng.uniform(0.4, 2.5, 2)
    height = rng.uniform(2.4, 3.3)
    centre = np.array([*((lo + hi) / 2) @ to_room, 0.0])
    parts = [box(centre, [hi[0] - lo[0], hi[1] - lo[1], height], yaw, 0, inward=True)]
    # the room box's faces: order -x, +x, -y, +y, floor (-z), ceiling (+z) (see `box`)
    mats = [_mat(rng, "wall", photos), _mat(rng, "wall", photos), _mat(rng, "floor"), _mat(rng, "wall")]
    # brick walls: material 0 covers the walls facing room x (they run along room y), 1 the others
    for w, along in ((0, np.array([-s, c])), (1, np.array([c, s]))):
        if mats[w][2][0] == PHOTO:
            mats[w] = (mats[w][0], mats[w][1], mats[w][2], np.array([along[0], along[1], 0.0]))
    mats[3] = (linear([235, 235, 232]), linear([220, 220, 218]), np.array([NOISE, 5, 0, 0]), np.array([0, 0, 1.0]))
    room_mat = np.array([0, 0, 1, 1, 2, 3], dtype=np.float64).repeat(4)
    p, n, _, f = parts[0]
    parts[0] = (p, n, room_mat, f)
    path = np.asarray(person_xy)

    def clear(xy: np.ndarray, radius: float) -> bool:
        return bool(np.min(np.linalg.norm(path - xy, axis=1)) > keep_clear + radius) and \
            bool(np.min(np.linalg.norm(np.asarray(camera_centres)[:, :2] - xy, axis=1)) > 0.4 + radius)

    furniture = [_mat(rng, "furniture") for _ in range(2)]
    mats += furniture
    pictures = [_mat(rng, "picture", photos) for _ in range(2)]
    mats += pictures
    for _ in range(int(rng.integers(2, 7))):     # furniture along the walls
        wall = int(rng.integers(4))
        size = np.array([rng.uniform(0.4, 2.0), rng.uniform(0.35, 0.9), rng.choice([0.45, 0.75, 0.9, 1.2, 1.9]) * rng.uniform(0.9, 1.1)])
        t = rng.uniform(0.1, 0.9)
        if wall < 2:
            local = np.array([lo[0] + size[1] / 2 + 0.02 if wall == 0 else hi[0] - size[1] / 2 - 0.02,
                              lo[1] + t * (hi[1] - lo[1])])
            by = yaw + np.pi / 2
        else:
            local = np.array([lo[0] + t * (hi[0] - lo[0]),
                              lo[1] + size[1] / 2 + 0.02 if wall == 2 else hi[1] - size[1] / 2 - 0.02])
            by = yaw
        xy = local @ to_room
        if clear(xy, max(size[:2]) / 2):
            parts.append(box([*xy, 0.0], size, by, 4 + int(rng.integers(2))))
    picture_parts: set[int] = set()
    for _ in range(int(rng.integers(0, 4))):     # pictures, doors on the walls
        wall = int(rng.integers(4))
        door = rng.uniform() < 0.3
        w_, h_ = (0.9, 2.05) if door else (rng.uniform(0.3, 1.2), rng.uniform(0.3, 0.9))
        z0 = 0.0 if door else rng.uniform(1.0, 1.8)
        t = rng.uniform(0.15, 0.85)
        if wall < 2:
            local, by = np.array([lo[0] + 0.01 if wall == 0 else hi[0] - 0.01, lo[1] + t * (hi[1] - lo[1])]), yaw + np.pi / 2
        else:
            local, by = np.array([lo[0] + t * (hi[0] - lo[0]), lo[1] + 0.01 if wall == 2 else hi[1] - 0.01]), yaw
        part = box([*(local @ to_room), z0], [w_, 0.02, h_], by, 6 + int(rng.integers(2)))
        if not door and photos:
            h_ = w_ * rng.uniform(0.6, 1.0)  # photographs are square crops: keep them near square
            part = box([*(local @ to_room), z0], [w_, 0.02, h_], by, 6 + int(rng.integers(2)))
        parts.append(part)
        picture_parts.add(len(parts) - 1)
    if seat is not None:
        sx, sy, top, syaw = seat
        parts.append(box([sx, sy, 0.0], [0.45, 0.45, max(top, 0.2)], syaw, 4))
        back = np.array([sx, sy]) - 0.25 * np.array([np.cos(syaw), np.sin(syaw)])
        if rng.uniform() < 0.7:
            parts.append(box([*back, 0.0], [0.05, 0.45, max(top, 0.2) + 0.45], syaw, 4))
    if occluder is not None and rng.uniform() < 0.3:
        cam, target = occluder
        t = rng.uniform(0.3, 0.7)
        xy = cam[:2] + t * (target[:2] - cam[:2])
        d = np.linalg.norm(target[:2] - cam[:2])
        if d * (1 - t) > 0.55:
            size = [rng.uniform(0.5, 1.4), rng.uniform(0.3, 0.7), rng.uniform(0.5, 1.1)]
            ang = np.arctan2(target[1] - cam[1], target[0] - cam[0]) + np.pi / 2 + rng.normal(0, 0.3)
            parts.append(box([*xy, 0.0], size, ang, 4 + int(rng.integers(2))))
    k = 0
    pos, nrm, mat, faces, tex = [], [], [], [], []
    for i, (p, n, m, f) in enumerate(parts):
        pos.append(p), nrm.append(n), mat.append(m + first_slot), faces.append(f + k)
        tex.append(np.c_[_BOX_UV, np.full(len(p), 5.0)] if i in picture_parts else p)
        k += len(p)
    materials = {key: np.array([m[i] for m in mats], dtype=np.float64)
                 for i, key in enumerate(("color_a", "color_b", "pattern", "axis"))}
    return Room(np.concatenate(pos), np.concatenate(nrm), np.concatenate(mat), np.concatenate(faces),
                materials, materials["color_a"][2], np.concatenate(tex))


def sample_light(rng: np.random.Generator, floor_linear: np.ndarray) -> dict[str, np.ndarray]:
    """Hemisphere ambient + one directional light (world direction the light travels)."""
    temps = np.array([(1.0, 0.78, 0.55), (1.0, 0.9, 0.8), (1.0, 1.0, 1.0), (0.85, 0.92, 1.0)])
    tint = temps[int(rng.integers(len(temps)))] * rng.uniform(0.95, 1.05, 3)
    strength = rng.uniform(0.6, 1.5)
    az, el = rng.uniform(-np.pi, np.pi), np.radians(rng.uniform(15, 80))
    direction = -np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    amb = rng.uniform(0.2, 0.6)
    sky = amb * temps[int(rng.integers(len(temps)))]
    ground = amb * (0.4 * np.asarray(floor_linear) + 0.2)
    return {"light_dir": direction, "light_col": tint * strength, "sky": sky, "ground": ground}
