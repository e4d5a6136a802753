"""A generated sample clip for `movnect demo --source sample` (no camera, no dataset needed).

One synthetic person (movnect.data's procedural body, motion and renderer) performs a few
actions in a synthetic room, seen by a webcam-like camera: 640 x 480, 60 degrees horizontal
field of view (the demo's default assumption for unknown cameras), 1.25 m high, 3.6 m
from the middle of the capture space. Deterministic for a seed. The clip ends with the empty
room (`empty_seconds`), so the demo's "nobody in view" path runs too.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from movnect import atomic
from movnect import camera as cam
from movnect.live import intrinsics_from_fov
from movnect.rotations import matrix_to_quaternion

SAMPLE_ACTIONS = ("Directions", "Walking", "Greeting")
MOTION_FPS = 50  # the synthetic motion generator's rate


def look_at(position: np.ndarray, target: np.ndarray) -> cam.Extrinsics:
    """Extrinsics (Human3.6M convention) of a camera at `position` looking at `target`
    (world mm, z up), with no roll."""
    fwd = np.asarray(target, float) - np.asarray(position, float)
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-6:
        raise ValueError("look_at: camera looks straight up or down")
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    rot = np.stack([right, down, fwd], axis=1)  # columns: camera axes in world coordinates
    q = matrix_to_quaternion(rot)
    return cam.Extrinsics(tuple(float(v) for v in q), tuple(float(v) for v in position))


def sample_camera(center_xy: np.ndarray, width: int = 640, height: int = 480, fov_deg: float = 60.0,
                  distance_mm: float = 3600.0, height_mm: float = 1250.0) -> cam.Camera:
    target = np.array([center_xy[0], center_xy[1], 950.0])
    position = np.array([center_xy[0], center_xy[1] - distance_mm, height_mm])
    return cam.Camera("sample", intrinsics_from_fov(height, width, fov_deg), look_at(position, target))


def write_sample_clip(path: str | Path, seconds_per_action: float = 3.0, fps: int = 25,
                      seed: int = 7, width: int = 640, height: int = 480, empty_seconds: float = 1.0) -> dict:
    """Render the sample clip to `path` (mp4v) and a sidecar `<path>.json` with the camera and
    the ground-truth camera-frame joints (17, mm) of every frame. Returns the sidecar dict."""
    from movnect import skeleton
    from movnect.data.synthetic.body import generate_motion
    from movnect.data.synthetic.scene import h36m_region, render_frame, room_background, sample_actor

    if MOTION_FPS % fps:
        raise ValueError(f"fps must divide {MOTION_FPS}, got {fps}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    actor = sample_actor(rng)
    region = h36m_region("S1")
    camera = sample_camera(region.center, width, height)
    background = room_background(rng, region, camera)
    step = MOTION_FPS // fps
    n_motion = int(round(seconds_per_action * MOTION_FPS))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write the video {path}")
    truth = []
    try:
        for action in SAMPLE_ACTIONS:
            motion = generate_motion(action, actor.shape, region, n_motion, rng)
            for k in range(0, n_motion, step):
                writer.write(render_frame(background, actor, motion, k, camera))
                j17 = skeleton.from_h36m32(motion.joints[k])
                truth.append(cam.world_to_camera(j17, camera.extrinsics).round(1).tolist())
        for _ in range(int(round(empty_seconds * fps))):  # the empty room at the end
            writer.write(background)
            truth.append(None)
    finally:
        writer.release()
    i = camera.intrinsics
    meta = {"fps": fps, "frames": len(truth), "width": width, "height": height,
            "focal": list(i.focal), "center": list(i.center), "actions": list(SAMPLE_ACTIONS),
            "seed": seed, "joints3d_camera_mm": truth}
    atomic.write_json(Path(str(path) + ".json"), meta)
    return meta


def sample_intrinsics(meta: dict) -> cam.Intrinsics:
    return cam.Intrinsics(tuple(meta["focal"]), tuple(meta["center"]), width=meta["width"], height=meta["height"])
