"""Sample crops for parity checks and int8 calibration.

`load_frames(source, size, count)` reads (N, S, S, 3) uint8 RGB crops from
  * an HDF5 dataset file (prepare-h36m / synthetic release output): the first uint8 array
    shaped (N, H, W, 3) (the person crops), evenly spaced rows;
  * a folder of images, an image or a video: each frame centre-cropped to a square and resized.
`synthetic_frames(size, count)` renders person crops with the synthetic release's renderer.
`stick_figure_frames(size, count, seed)` draws stick figures (17-joint skeleton, random limb
angles, textured background) and returns their 2D joints too: deterministic frames with a known
answer for tests and for exports when no data is at hand. They are drawings, not photographs.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from movnect import skeleton
from movnect.media import IMAGE_SUFFIXES, iter_frames

# Rest-pose 2D offsets (x right, y down) of each joint from its parent, in units of body height.
_REST = np.array([
    [0.0, 0.0], [-0.06, 0.0], [0.0, 0.24], [0.0, 0.24], [0.06, 0.0], [0.0, 0.24], [0.0, 0.24],
    [0.0, -0.12], [0.0, -0.14], [0.0, -0.05], [0.0, -0.08], [0.1, 0.02], [0.0, 0.15],
    [0.0, 0.14], [-0.1, 0.02], [0.0, 0.15], [0.0, 0.14],
])


def square_resize(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) -> (size, size, 3): the centred square of side min(H, W), resized (area filter)."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    h, w = image.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    crop = image[y0: y0 + s, x0: x0 + s]
    if s == size:
        return np.ascontiguousarray(crop)
    interp = cv2.INTER_AREA if s > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interp)


def load_frames(source: str | Path, size: int, count: int = 16) -> np.ndarray:
    """Up to `count` RGB crops (N, size, size, 3) uint8 from an .h5 file, a folder, an image or a video."""
    p = Path(source)
    if not p.exists():
        raise FileNotFoundError(f"frames source not found: {p}")
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if p.suffix.lower() in (".h5", ".hdf5"):
        frames = _h5_frames(p, count)
    elif p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder {p}")
        picks = np.linspace(0, len(files) - 1, min(count, len(files))).round().astype(int)
        frames = [next(iter_frames(files[i])) for i in picks]
    else:
        frames = []
        for frame in iter_frames(p):
            frames.append(frame)
            if len(frames) >= count:
                break
    return np.stack([square_resize(np.asarray(f), size) for f in frames]).astype(np.uint8)


def _h5_frames(path: Path, count: int) -> list[np.ndarray]:
    import h5py

    found: list[str] = []

    def visit(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset) and obj.dtype == np.uint8 and obj.ndim == 4 and obj.shape[-1] == 3:
            found.append(name)

    with h5py.File(path, "r") as f:
        f.visititems(visit)
        if not found:
            raise ValueError(f"{path}: no uint8 (N, H, W, 3) image array found")
        data = f[sorted(found, key=lambda n: (n not in ("images", "crops"), n))[0]]
        if len(data) == 0:
            raise ValueError(f"{path}: image array {data.name} is empty")
        rows = np.unique(np.linspace(0, len(data) - 1, min(count, len(data))).round().astype(int))
        return [np.asarray(data[int(i)]) for i in rows]


def stick_figure_frames(size: int, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Drawn stick figures: frames (N, S, S, 3) uint8 RGB and their joints (N, 17, 2) crop pixels.

    The figure fills about 70 % of the crop height; limbs are bent by random angles up to
    about 50 degrees; background is smooth coloured noise; joints are marked by small discs.
    """
    rng = np.random.default_rng(seed)
    frames = np.empty((count, size, size, 3), np.uint8)
    joints = np.empty((count, skeleton.NUM_JOINTS, 2), np.float32)
    for n in range(count):
        noise = rng.uniform(40, 200, (max(2, size // 16), max(2, size // 16), 3)).astype(np.float32)
        img = cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)
        img = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
        height = size * rng.uniform(0.55, 0.75)
        pos = np.zeros((skeleton.NUM_JOINTS, 2))
        angle = np.zeros(skeleton.NUM_JOINTS)
        pos[0] = (size * rng.uniform(0.4, 0.6), size * rng.uniform(0.45, 0.55))
        for j in range(1, skeleton.NUM_JOINTS):
            parent = skeleton.PARENTS[j]
            angle[j] = angle[parent] + rng.uniform(-0.9, 0.9) * (j not in (1, 4, 7, 8, 9))
            c, s = np.cos(angle[j]), np.sin(angle[j])
            off = _REST[j] * height
            pos[j] = pos[parent] + (c * off[0] - s * off[1], s * off[0] + c * off[1])
        pos = np.clip(pos, 2, size - 3)
        thickness = max(1, int(round(size / 64)))
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        for j in range(1, skeleton.NUM_JOINTS):
            a, b = pos[skeleton.PARENTS[j]], pos[j]
            cv2.line(img, (int(round(a[0])), int(round(a[1]))), (int(round(b[0])), int(round(b[1]))),
                     color, 2 * thickness, cv2.LINE_AA)
        for j in range(skeleton.NUM_JOINTS):
            shade = (255, 255, 255) if j in skeleton.LEFT_JOINTS else (0, 0, 0)
            cv2.circle(img, (int(round(pos[j, 0])), int(round(pos[j, 1]))), 2 * thickness, shade, -1, cv2.LINE_AA)
        frames[n] = img
        joints[n] = pos
    return frames, joints


def synthetic_frames(size: int, count: int, seed: int = 0) -> np.ndarray:
    """Person crops (N, S, S, 3) uint8 RGB rendered by the synthetic release's renderer
    (movnect.data.synthetic): a walking subject in a room seen by a Human3.6M camera, cropped
    around the projected joints (padded by 20 %), one frame every 0.1 s."""
    from movnect import camera as cam
    from movnect.data.synthetic.body import generate_motion
    from movnect.data.synthetic.release import synth_cameras
    from movnect.data.synthetic.scene import h36m_region, render_frame, room_background, sample_actor

    rng = np.random.default_rng([seed, 1])
    actor = sample_actor(rng)
    region = h36m_region("S1")
    camera = synth_cameras("S1", (cam.h36m_camera_ids()[0],), 500)[0]
    background = room_background(rng, region, camera)
    motion = generate_motion("Walking", actor.shape, region, 5 * count, rng)
    out = np.empty((count, size, size, 3), np.uint8)
    for n in range(count):
        img = render_frame(background, actor, motion, 5 * n, camera)
        uv = cam.project(cam.world_to_camera(skeleton.from_h36m32(motion.joints[5 * n]), camera.extrinsics),
                         camera.intrinsics)
        lo, hi = uv.min(0), uv.max(0)
        box = cam.CropBox.around(tuple((lo + hi) / 2), float((hi - lo).max()) * 1.2)
        out[n] = cv2.cvtColor(cam.crop_image(img, box, size), cv2.COLOR_BGR2RGB)
    return out


def sample_frames(source: str | Path | None, size: int, count: int = 16) -> tuple[np.ndarray, str]:
    """Frames for verification or calibration and a description of where they came from:
    `source` when given (see load_frames), else frames of the synthetic renderer, else (if
    that cannot run) drawn stick figures."""
    if source is not None:
        return load_frames(source, size, count), str(source)
    try:
        return synthetic_frames(size, count), f"{count} synthetic-renderer person crops (no --frames given)"
    except ImportError:
        frames, _ = stick_figure_frames(size, count, seed=0)
        return frames, f"{count} generated stick-figure frames (no --frames given; synthetic renderer missing)"
