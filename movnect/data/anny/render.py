"""One rendered sequence: a body, an outfit, a motion, a camera, a room, K training rows.

Everything about sequence `index` of run `seed` comes from numpy.random.default_rng([seed,
index]), so a sequence is the same whichever worker renders it and whenever.

Per sequence: a subject name (S1, S5-S8 for training, S9/S11 for validation, as the training
configs expect: 10 % of sequences are S9/S11), a phenotype with a sampled stature and skin
tone, an outfit, a motion (one of the 15 Human3.6M actions from the motion generator, or
random poses), K frames of it 5 frames apart at 50 fps (64 apart for S9/S11, the protocols'
test step, so `select_rows(frame_step=64)` keeps them), a camera (webcam, phone or one of the
Human3.6M cameras) that sees at least MIN_JOINTS_IN_FRAME joints in every frame (re-drawn
until it does), a room, a light and a degradation style.

Per frame: the 17 joints in the camera frame (mm) and their pinhole projection (full-image
pixels); a square crop box around the joints inside the image (prepare-h36m's rule: side
(1 + 2 margin) x their larger extent, here jittered in scale and position); the crop rendered
directly (the crop's own intrinsics, so no full-size image is made), pixels outside the
camera's image black as prepare-h36m's crops are, then degraded and JPEG-encoded.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from movnect.camera import CropBox, crop_intrinsics, inside_image, project, world_to_camera
from movnect.data.anny.appearance import BODY_SLOTS, sample_look
from movnect.data.anny.body import AnnyBody, Phenotype, sample_phenotype, sample_skin, sample_stature
from movnect.data.anny.degrade import degrade, sample_degradation
from movnect.data.anny.joints import JointRegressor
from movnect.data.anny.motion import MOTIONS, h36m_region, motion_tracks, open_region, perform
from movnect.data.anny.raster import Mesh, Rasterizer, face_incidence, projection, vertex_normals
from movnect.data.anny.scene import CAMERA_KINDS, sample_camera, sample_light, sample_room

TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS = ("S9", "S11")
SUBJECTS = TRAIN_SUBJECTS + TEST_SUBJECTS
TEST_SHARE = 0.1
STEP_TRAIN, STEP_TEST = 5, 64
MIN_JOINTS_IN_FRAME = 8
CAMERA_P = (0.4, 0.25) + (0.35 / 4,) * 4    # webcam, phone, the four Human3.6M cameras
RANDOM_P = 0.25                              # share of random-pose sequences
SECOND_PERSON_P = 0.3                        # share of sequences with a second (unlabelled) person
MAX_ATTEMPTS = 8                             # draws of a sequence before giving up (see render)


class _NoCamera(Exception):
    """No sampled camera has the whole motion in front of it: the sequence is re-drawn."""


@dataclass(frozen=True)
class RenderOptions:
    crop_size: int = 256
    frames: int = 8               # rows per sequence
    margin: float = 0.2           # crop side = (1 + 2 margin) x the joints' extent (before jitter)
    msaa: int = 4                 # multisample anti-aliasing samples (0 = off: about 2.5x faster raster)

    def __post_init__(self) -> None:
        if self.crop_size < 16 or self.frames < 1 or not 0.0 <= self.margin <= 2.0 or self.msaa not in (0, 2, 4):
            raise ValueError(f"need crop_size >= 16, frames >= 1, margin in [0, 2], msaa 0, 2 or 4; got {self}")


def contact_shadows(joints: np.ndarray, light_dir: np.ndarray) -> np.ndarray:
    """Soft floor shadows (4, 4): x, y, radius m, strength, under the feet and the body.

    joints: (17, 3) world metres (z up, floor at 0); light_dir: (3,) world direction the light
    travels. Each blob is displaced along the light's horizontal direction by the height of
    what casts it (capped), so the shadow falls away from the light."""
    d = np.asarray(light_dir, dtype=np.float64)
    slide = d[:2] / max(-d[2], 0.3)
    out = []
    for j, radius, strength in ((3, 0.12, 0.5), (6, 0.12, 0.5), (0, 0.35, 0.35), (8, 0.3, 0.2)):
        p = joints[j]
        off = slide * min(p[2], 1.2) * 0.6
        out.append((p[0] + off[0], p[1] + off[1], radius, strength * float(np.exp(-max(p[2] - 0.1, 0.0)) if j in (3, 6) else strength)))
    return np.array(out)


class SequenceRenderer:
    """Renders sequences; holds one Anny model and one GL context (one per process)."""

    def __init__(self, opts: RenderOptions = RenderOptions()) -> None:
        self.opts = opts
        self.body = AnnyBody()
        ref = self.body.rest(Phenotype(0.5, 2.0 / 3.0, 0.5, 0.5, 0.5, 0.5))
        self.joints = JointRegressor(self.body.bone_labels, self.body.vertex_bone, ref["vertices"])
        from movnect.data.anny.photos import load_photos

        self.photo_names, photos = load_photos()
        self.raster = Rasterizer(opts.crop_size, samples=opts.msaa, photos=photos)
        self.incidence = face_incidence(self.body.faces, self.body.num_vertices)
        self.timing = {"body": 0.0, "raster": 0.0, "compositing": 0.0, "encode": 0.0, "samples": 0}

    def close(self) -> None:
        self.raster.release()

    def _second_person(self, rng: np.random.Generator, camera: np.ndarray, pelvis: np.ndarray):
        """Another body, standing still near the person (in front of it 35 % of the time, partly
        hiding it, else around or behind it); its meshes use material slots BODY_SLOTS.. Not labelled."""
        mid = pelvis[len(pelvis) // 2]
        to_person = mid[:2] - camera[:2]
        dist = float(np.linalg.norm(to_person))
        ahead = to_person / max(dist, 1e-6)
        side = np.array([-ahead[1], ahead[0]])
        for _ in range(20):
            if rng.uniform() < 0.35 and dist > 1.6:
                xy = camera[:2] + ahead * dist * rng.uniform(0.35, 0.7) + side * rng.uniform(-0.6, 0.6)
            else:
                xy = mid[:2] + ahead * rng.uniform(-0.5, 2.5) + side * rng.uniform(-2.5, 2.5)
            if np.min(np.linalg.norm(pelvis[:, :2] - xy, axis=1)) > 0.6 and np.linalg.norm(xy - camera[:2]) > 0.8:
                break
        else:
            return None, None, None
        motion = str(rng.choice(["Waiting", "Directions", "Discussion", "Phoning", "Smoking", "Random"]))
        tracks = motion_tracks(rng, motion, 40, open_region())
        tracks["x"], tracks["y"] = np.full(40, xy[0] * 1000.0), np.full(40, xy[1] * 1000.0)
        pheno = sample_phenotype(rng)
        pheno = self.body.with_stature(pheno, sample_stature(rng, pheno))
        perf = perform(self.body, pheno, tracks, np.array([39]))
        rest = self.body.rest(pheno)
        look = sample_look(rng, self.body.bone_labels, self.body.vertex_bone, rest["vertices"], rest["heads"],
                           sample_skin(rng), pheno.gender, self.body.vertex_uv)
        v = perf.vertices[0]
        n = vertex_normals(v, self.body.faces, self.incidence)
        mat = look.vertex_material + BODY_SLOTS
        meshes = [Mesh(v, n, rest["vertices"], mat, self.body.faces)]
        shell = self.body.faces[(look.shell[self.body.faces] > 0).all(axis=1)]
        if len(shell):
            meshes.append(Mesh(v + n * look.shell[:, None], n, rest["vertices"], mat, shell))
        return meshes, look, xy

    def render(self, seed: int, index: int) -> dict[str, np.ndarray | list]:
        """Rows of sequence `index`: a dict of per-row arrays (see writer.ROW_FIELDS) and metadata.

        A draw whose motion leaves no camera placement with every joint at least 30 cm in front
        of it (e.g. a walk through where the camera would stand) is re-drawn from
        default_rng([seed, index, attempt]); attempt 0 is default_rng([seed, index])."""
        for attempt in range(MAX_ATTEMPTS):
            rng = np.random.default_rng([seed, index] if attempt == 0 else [seed, index, attempt])
            try:
                return self._render(rng, index)
            except _NoCamera:
                continue
        raise RuntimeError(f"sequence {index} of seed {seed}: no camera sees the person in {MAX_ATTEMPTS} draws")

    def _render(self, rng: np.random.Generator, index: int) -> dict[str, np.ndarray | list]:
        o = self.opts
        t0 = time.perf_counter()
        test = rng.uniform() < TEST_SHARE
        subject = str(rng.choice(TEST_SUBJECTS if test else TRAIN_SUBJECTS))
        step = STEP_TEST if test else STEP_TRAIN
        motion = "Random" if rng.uniform() < RANDOM_P else str(rng.choice(MOTIONS[:-1]))
        start = step * int(rng.integers(1, 4))
        frames = start + step * np.arange(o.frames)
        kind = str(rng.choice(CAMERA_KINDS, p=CAMERA_P))
        lab = kind not in ("webcam", "phone")
        tracks = motion_tracks(rng, motion, int(frames[-1]) + 1, h36m_region() if lab else open_region())
        mid = frames[len(frames) // 2]
        if not lab:
            tracks["x"] = tracks["x"] - tracks["x"][mid]
            tracks["y"] = tracks["y"] - tracks["y"][mid]
        elif motion == "Random":
            xy = h36m_region().sample(rng)
            tracks["x"], tracks["y"] = tracks["x"] + xy[0], tracks["y"] + xy[1]
        pheno = sample_phenotype(rng)
        pheno = self.body.with_stature(pheno, sample_stature(rng, pheno))
        stature = self.body.stature(pheno)
        skin = sample_skin(rng)
        perf = perform(self.body, pheno, tracks, frames)
        rest = self.body.rest(pheno)
        look = sample_look(rng, self.body.bone_labels, self.body.vertex_bone, rest["vertices"], rest["heads"],
                           skin, pheno.gender, self.body.vertex_uv)
        joints_w = self.joints(perf.heads, perf.vertices)                     # (K, 17, 3) m
        shell_faces = self.body.faces[(look.shell[self.body.faces] > 0).all(axis=1)]
        normals = [vertex_normals(v, self.body.faces, self.incidence) for v in perf.vertices]
        t1 = time.perf_counter()

        k_mid = len(frames) // 2
        cam, good = None, None   # good: the last draw with every joint in front of the camera
        for _ in range(30):
            cam = sample_camera(rng, kind, joints_w[k_mid, 0], float(tracks["yaw"][mid]), stature)
            jc = world_to_camera(joints_w * 1000.0, cam.extrinsics)
            if np.any(jc[..., 2] < 300.0):
                continue
            good = cam
            uv = project(jc, cam.intrinsics, distortion=False)
            w, h = cam.intrinsics.width, cam.intrinsics.height
            inside = (uv[..., 0] > 1) & (uv[..., 0] < w - 2) & (uv[..., 1] > 1) & (uv[..., 1] < h - 2)
            if inside.sum(axis=1).min() >= MIN_JOINTS_IN_FRAME:
                break
        if good is None:
            raise _NoCamera
        cam = good
        centre = np.asarray(cam.extrinsics.translation) / 1000.0
        rot_wc = cam.extrinsics.rotation.T
        other, other_look, other_xy = None, None, None
        if rng.uniform() < SECOND_PERSON_P:
            other, other_look, other_xy = self._second_person(rng, centre, perf.heads[:, 0])
        path = perf.heads[:, 0, :2] if other is None else np.concatenate([perf.heads[:, 0, :2], other_xy[None]])
        room = sample_room(rng, centre[None], path, 0.45, perf.seat, (centre, joints_w[k_mid, 0]), 2 * BODY_SLOTS,
                           self.photo_names)
        light = sample_light(rng, room.floor_rgb)
        second_mats = other_look.materials if other_look is not None else look.materials  # (unused slots if none)
        materials = {k: np.concatenate([look.materials[k], second_mats[k], room.materials[k]]) for k in look.materials}
        room_mesh = Mesh(room.positions, room.normals, room.tex, room.material, room.faces)
        static = [room_mesh] + (other or [])
        deg = sample_degradation(rng)
        view = np.eye(4)
        view[:3, :3], view[:3, 3] = rot_wc, -rot_wc @ centre
        s = o.crop_size
        i_ = cam.intrinsics
        rows = {"jpeg": [], "joints3d": [], "joints2d": [], "crop_box": [], "in_frame": []}
        boxes = []
        for k in range(len(frames)):
            j3 = world_to_camera(joints_w[k] * 1000.0, cam.extrinsics)
            uv = project(j3, i_, distortion=False)
            ok = inside_image(uv, i_.width, i_.height)
            pts = uv[ok] if ok.sum() >= 2 else uv
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            side = max(float((hi - lo).max()) * (1.0 + 2.0 * o.margin), 32.0) * rng.uniform(0.95, 1.15)
            c = (lo + hi) / 2.0 + rng.normal(0.0, 0.04, 2) * side
            boxes.append(CropBox.around(tuple(c), side))
            rows["joints3d"].append(j3)
            rows["joints2d"].append(uv)
            rows["crop_box"].append(boxes[-1].as_array())
            rows["in_frame"].append(ok)
        t2 = time.perf_counter()
        self.timing["body"] += t1 - t0
        # the room is static: drawn once over the union of the crops, at the finest crop's density
        # (at most 2 crop sizes across), then resampled into each crop; the person is drawn per
        # frame over it, hidden by the room's depth where furniture is nearer
        ux0, uy0 = min(b.x0 for b in boxes), min(b.y0 for b in boxes)
        ux1, uy1 = max(b.x0 + b.side for b in boxes), max(b.y0 + b.side for b in boxes)
        q = min(s / min(b.side for b in boxes), 2 * s / max(ux1 - ux0, uy1 - uy0))
        bw, bh = min(2 * s, int(np.ceil((ux1 - ux0) * q))), min(2 * s, int(np.ceil((uy1 - uy0) * q)))
        (fx, fy), (cx, cy) = i_.focal, i_.center
        bg = self.raster.render_background(
            static, bw, bh, projection(fx * q, fy * q, (cx - ux0) * q, (cy - uy0) * q, bw, bh), view,
            materials, light, blobs=contact_shadows(joints_w[k_mid], light["light_dir"]), first_scene=2 * BODY_SLOTS)
        t3 = time.perf_counter()
        self.timing["raster"] += t3 - t2
        for k, box in enumerate(boxes):
            ta = time.perf_counter()
            ci = crop_intrinsics(i_, box, s)
            proj = projection(*ci.focal, *ci.center, s, s)
            person = Mesh(perf.vertices[k], normals[k], rest["vertices"], look.vertex_material, self.body.faces)
            parts = [person]
            if len(shell_faces):
                parts.append(Mesh(perf.vertices[k] + normals[k] * look.shell[:, None], normals[k], rest["vertices"],
                                  look.vertex_material, shell_faces))
            tb = time.perf_counter()
            rgba = self.raster.render_over(static, parts, proj, view, materials, light, cull=True)
            tc = time.perf_counter()
            r = box.side / s * q
            warp = np.array([[r, 0.0, (box.x0 - ux0) * q], [0.0, r, (box.y0 - uy0) * q]])  # crop px -> room px
            back = cv2.warpAffine(bg, warp, (s, s), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                  borderMode=cv2.BORDER_REPLICATE)
            alpha = rgba[..., 3:].astype(np.uint16)
            img = (rgba[..., :3] + ((255 - alpha) * back + 127) // 255).clip(0, 255).astype(np.uint8)
            # pixels outside the camera's image are black, as in prepare-h36m's crops
            u = box.x0 + np.arange(s) * box.side / s
            v = box.y0 + np.arange(s) * box.side / s
            img[(v < -0.5) | (v > i_.height - 0.5)] = 0
            img[:, (u < -0.5) | (u > i_.width - 0.5)] = 0
            img = degrade(img, deg, rng)
            td = time.perf_counter()
            okj, jpg = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                                    [cv2.IMWRITE_JPEG_QUALITY, deg.jpeg_quality])
            te = time.perf_counter()
            rows["jpeg"].append(np.frombuffer(jpg.tobytes(), dtype=np.uint8))
            self.timing["body"] += tb - ta
            self.timing["raster"] += tc - tb
            self.timing["compositing"] += td - tc
            self.timing["encode"] += te - td
        self.timing["body"] += t2 - t1  # camera, room, light and crop boxes counted with the body
        self.timing["samples"] += len(frames)
        intr = np.array([*i_.focal, *i_.center, 0, 0, 0, 0, 0], dtype=np.float64)
        ext = np.array([*cam.extrinsics.orientation, *cam.extrinsics.translation], dtype=np.float64)
        n = len(frames)
        return {
            "jpeg": rows["jpeg"], "joints3d": np.asarray(rows["joints3d"], dtype=np.float32),
            "joints2d": np.asarray(rows["joints2d"], dtype=np.float32),
            "crop_box": np.asarray(rows["crop_box"], dtype=np.float32),
            "in_frame": np.asarray(rows["in_frame"], dtype=np.uint8),
            "intrinsics": np.repeat(intr[None], n, 0), "extrinsics": np.repeat(ext[None], n, 0),
            "image_size": np.repeat(np.array([[i_.width, i_.height]], dtype=np.int32), n, 0),
            "frame": frames.astype(np.int32),
            "meta": {"subject": subject, "motion": motion, "camera": kind, "index": int(index),
                     "second_person": other is not None,
                     "phenotype": [round(x, 4) for x in pheno.as_array().tolist()], "outfit": look.outfit},
        }
