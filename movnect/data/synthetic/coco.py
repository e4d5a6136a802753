"""A small COCO-format keypoint set drawn by the synthetic renderer (`movnect synth --coco N`).

Layout (the COCO release's, so movnect.data.keypoints2d reads it like the real one):
  <out>/images/<12-digit id>.jpg
  <out>/annotations/person_keypoints.json   images, annotations (keypoints [x, y, v] * 17, bbox
                                            [x, y, w, h], area, num_keypoints, iscrowd 0),
                                            categories (person, COCO's keypoint names)
Each image is a random room seen through a Human3.6M camera (intrinsics scaled to `image_size`)
with one person, sometimes two, in a random frame of a random action.

COCO's 17 keypoints come from the synthetic skeleton: shoulders, elbows, wrists, hips, knees and
ankles are release joints; nose, eyes and ears are points on the drawn head sphere
(synthetic.render.FACE_OFFSETS). Visibility follows COCO: v=2 labelled and visible, v=1
labelled but hidden (an ear on the far side of the head), v=0 not labelled, with x = y = 0 (a
keypoint outside the image, and nose/eyes when the face is turned away, since the renderer
draws no face then). Occlusion of one body part by another is not modelled: body joints inside
the image are always v=2. The bbox and area are those of the person's drawn pixels.

These are synthetic images for testing the 2D loaders, not COCO data.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from movnect import atomic
from movnect import camera as cam
from movnect.data.h36m_release import ACTIONS
from movnect.data.synthetic.body import generate_motion
from movnect.data.synthetic.motion import BodyShape, CaptureRegion, Motion, sample_shape
from movnect.data.synthetic.release import synth_cameras
from movnect.data.synthetic.render import (
    FACE_OFFSETS, camera_center, faces_camera, head_center, render_person, sample_appearance,
)
from movnect.data.synthetic.scene import h36m_region, room_background
from movnect.skeleton import COCO_KEYPOINTS

# COCO keypoint -> release (32-joint) index, for the keypoints that are skeleton joints.
_BODY = {"left_shoulder": 17, "right_shoulder": 25, "left_elbow": 18, "right_elbow": 26,
         "left_wrist": 19, "right_wrist": 27, "left_hip": 6, "right_hip": 1, "left_knee": 7,
         "right_knee": 2, "left_ankle": 8, "right_ankle": 3}
# COCO's limb list (1-based keypoint indices), written into the category as COCO does.
COCO_SKELETON = ((16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
                 (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7))
ANNOTATION_FILE = "annotations/person_keypoints.json"


@dataclass(frozen=True)
class CocoSynthConfig:
    images: int = 100
    image_size: int = 480              # image width in pixels (height from the camera's aspect)
    second_person_prob: float = 0.3    # chance of a second person in the room
    seed: int = 0

    def __post_init__(self) -> None:
        if self.images < 1:
            raise ValueError(f"images must be >= 1, got {self.images}")
        if not 64 <= self.image_size <= 1000 or self.image_size % 2:
            raise ValueError(f"image_size must be even and in [64, 1000], got {self.image_size}")
        if not 0.0 <= self.second_person_prob <= 1.0:
            raise ValueError(f"second_person_prob must be a probability, got {self.second_person_prob}")


def coco_keypoints(motion: Motion, frame: int, shape: BodyShape, camera: cam.Camera) -> np.ndarray:
    """COCO keypoints of one synthetic person seen by `camera`.

    Returns:
        (17, 3) float64 [x, y, v] in COCO_KEYPOINTS order, image pixels; see the module
        docstring for v. Pixel centres at integers (movnect.camera convention; COCO's own
        annotations are not that precise).
    """
    j = motion.joints[frame]
    rn = motion.head_rot[frame]
    head_c = head_center(j, rn, shape)
    eye = camera_center(camera)
    facing = faces_camera(motion, frame, shape, camera)
    pts, vis = np.zeros((17, 3)), np.zeros(17)
    for k, name in enumerate(COCO_KEYPOINTS):
        if name in _BODY:
            pts[k], vis[k] = j[_BODY[name]], 2
        else:
            offset = FACE_OFFSETS[name]
            pts[k] = head_c + rn @ offset * shape.head_radius
            if name.endswith("ear"):
                toward = (rn @ offset) @ (eye - pts[k]) / max(float(np.linalg.norm(eye - pts[k])), 1e-9)
                vis[k] = 2 if toward > 0.0 else 1
            else:
                vis[k] = 2 if facing else 0
    pc = cam.world_to_camera(pts, camera.extrinsics)
    uv = cam.project(np.where(pc[:, 2:] > 1.0, pc, [0.0, 0.0, 1.0]), camera.intrinsics)
    w, h = camera.intrinsics.width, camera.intrinsics.height
    inside = (pc[:, 2] > 1.0) & (uv[:, 0] >= 0) & (uv[:, 0] <= w - 1) & (uv[:, 1] >= 0) & (uv[:, 1] <= h - 1)
    vis = np.where(inside, vis, 0)
    out = np.zeros((17, 3))
    out[:, :2] = np.where(vis[:, None] > 0, uv, 0.0)
    out[:, 2] = vis
    return out


def _person(rng: np.random.Generator, region: CaptureRegion):
    # shape, action, motion, then clothes: not scene.sample_actor's order (shape, clothes), which
    # would change every image of a seed
    shape = sample_shape(rng)
    action = ACTIONS[int(rng.integers(0, len(ACTIONS)))]
    motion = generate_motion(action, shape, region, 40, rng)
    return shape, sample_appearance(rng), motion, int(rng.integers(0, 40)), action


def _mask_box(camera: cam.Camera, motion: Motion, frame: int, shape: BodyShape, look) -> tuple[list[float], int]:
    """bbox [x, y, w, h] and pixel area of the person alone (no chair), drawn on black."""
    canvas = np.zeros((camera.intrinsics.height, camera.intrinsics.width, 3), np.uint8)
    render_person(canvas, replace(motion, chair=None), frame, shape, look, camera)
    ys, xs = np.nonzero(canvas.max(axis=2) > 0)
    if len(xs) == 0:
        return [0.0, 0.0, 0.0, 0.0], 0
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)], len(xs)


def write_coco(out: str | Path, cfg: CocoSynthConfig = CocoSynthConfig(),
               progress: Callable[[int, int], None] | None = None) -> dict:
    """Write the image folder and the keypoint JSON under `out`; returns a summary dict.

    Deterministic for cfg.seed (image k depends on (seed, k) only). progress(done, total) is
    called after each image.
    """
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    subjects = cam.h36m_subjects()
    regions: dict[str, CaptureRegion] = {}
    images, annotations, t0 = [], [], time.perf_counter()
    for k in range(cfg.images):
        rng = np.random.default_rng([cfg.seed, k, 7])
        subject = subjects[int(rng.integers(0, len(subjects)))]
        if subject not in regions:
            regions[subject] = h36m_region(subject)
        region = regions[subject]
        camera = synth_cameras(subject, (cam.h36m_camera_ids()[int(rng.integers(0, 4))],), cfg.image_size)[0]
        image = room_background(rng, region, camera)
        people = [_person(rng, region)]
        if rng.uniform() < cfg.second_person_prob:
            other = _person(rng, region)
            apart = np.linalg.norm(other[2].joints[other[3], 0, :2] - people[0][2].joints[people[0][3], 0, :2])
            if apart > 900.0:
                people.append(other)
        depth = [float(cam.world_to_camera(p[2].joints[p[3], 0], camera.extrinsics)[2]) for p in people]
        image_id = k + 1
        for i in np.argsort(depth)[::-1]:  # far person first
            shape, look, motion, frame, action = people[i]
            render_person(image, motion, frame, shape, look, camera)
        for i in np.argsort(depth):
            shape, look, motion, frame, action = people[i]
            kp = coco_keypoints(motion, frame, shape, camera)
            bbox, area = _mask_box(camera, motion, frame, shape, look)
            if area == 0:
                continue
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                "keypoints": [round(float(v), 2) for v in kp.reshape(-1)],
                "num_keypoints": int((kp[:, 2] > 0).sum()), "bbox": bbox, "area": area,
                "synthetic_action": action,
            })
        name = f"{image_id:012d}.jpg"
        if not cv2.imwrite(str(out / "images" / name), image, [cv2.IMWRITE_JPEG_QUALITY, 92]):
            raise OSError(f"cannot write image {out / 'images' / name}")
        images.append({"id": image_id, "file_name": name, "width": image.shape[1], "height": image.shape[0]})
        if progress:
            progress(k + 1, cfg.images)
    doc = {
        "info": {"description": "movnect synthetic COCO-format person keypoints (not COCO data)",
                 "seed": cfg.seed, "image_size": cfg.image_size},
        "images": images, "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "supercategory": "person",
                        "keypoints": list(COCO_KEYPOINTS), "skeleton": [list(e) for e in COCO_SKELETON]}],
    }
    path = out / ANNOTATION_FILE
    atomic.write_json(path, doc)
    return {"out": str(out), "annotations": str(path), "images": len(images), "people": len(annotations),
            "seconds": time.perf_counter() - t0}
