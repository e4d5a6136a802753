"""torch Dataset over a `movnect prepare-h36m` HDF5 file (schema: docs/data.md).

Each item is the dict of docs/architecture.md: normalised crop, codec targets (heatmaps and
location maps) made AFTER augmentation, 2D joints in crop pixels, root-relative 3D joints in
mm, masks and metadata. The HDF5 file is opened lazily, once per process (DataLoader workers
each get their own handle; h5py handles must not cross a fork). Only the small index columns
are read up front.

Framing: a file stored with a wider margin than the training framing (movnect.camera.CROP_MARGIN;
e.g. `movnect synth --crop-margin 0.5`) is zoomed back to it (`framing_zoom`): `raw()` returns the
reframed crop and box, and training samples are warped from the stored crop in one affine map
with the augmentation, so zooming out or rotating shows the stored scene instead of black.

Augmentation randomness: with an integer `seed` it comes from
`numpy.random.default_rng([seed, epoch, row])` (call `set_epoch` at each epoch start); with
seed=None it is drawn from numpy's global RNG, which the training loop seeds per item from
(run seed, epoch, index) (movnect.train.distributed.SeededDataset). Either way a sample is
reproducible, which makes resumed runs replay exactly.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from movnect import skeleton
from movnect.camera import CropBox, image_to_crop
from movnect.codec import Codec
from movnect.data.h36m import open_h36m
from movnect.data.transforms import NO_AUGMENT, AugmentConfig, augment, framing_zoom, reframe_affine

TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS = ("S9", "S11")
TRAIN_FRAME_STEP = 5    # image-based papers: every 5th frame for training
TEST_FRAME_STEP = 64    # ... and every 64th frame of S9/S11 for testing
PSEUDO_LABEL_MIN_CONFIDENCE = 0.5  # per-joint teacher confidence below which a joint is unlabelled


def select_rows(path: str | Path, subjects: tuple[str, ...] | None = None, frame_step: int = 1) -> np.ndarray:
    """HDF5 row numbers of the given subjects whose video frame index is a multiple of frame_step.

    Raises ValueError for subjects absent from the file, or a frame_step the file cannot give
    (the file keeps every n-th frame; frame_step must be a multiple of n). frame_step 1 keeps
    every row of the file.
    """
    if frame_step < 1:
        raise ValueError(f"frame_step must be >= 1, got {frame_step}")
    with open_h36m(path) as f:
        names = [s.decode() if isinstance(s, bytes) else str(s) for s in f["names/subjects"][...]]
        subject = f["subject"][...]
        frame = f["frame"][...]
        file_step = int(f.attrs["frame_step"])
    if frame_step > 1 and frame_step % file_step:
        raise ValueError(f"{path} keeps every {file_step}th frame, so it cannot give every {frame_step}th: "
                         f"prepare it with --frame-step 1 or a divisor of {frame_step}")
    keep = frame % frame_step == 0
    if subjects is not None:
        missing = [s for s in subjects if s not in names]
        if missing:
            raise ValueError(f"{path} has no subject(s) {', '.join(missing)} (it has {', '.join(names)})")
        ids = [names.index(s) for s in subjects]
        keep &= np.isin(subject, ids)
    return np.flatnonzero(keep)


class H36MDataset(Dataset):
    """Rows of a prepared Human3.6M (or synthetic) file as training samples.

    Args:
        path: the HDF5 file.
        codec: target encoder (its input_size is the crop size the network sees).
        subjects: keep these subjects (None = all).
        frame_step: keep video frames that are multiples of this.
        augment: augmentation settings (NO_AUGMENT for evaluation).
        seed: base seed of the augmentation, or None to draw from numpy's global RNG.
        rows: explicit row numbers (overrides subjects / frame_step).
    """

    def __init__(self, path: str | Path, codec: Codec, subjects: tuple[str, ...] | None = None,
                 frame_step: int = 1, augment: AugmentConfig = NO_AUGMENT, seed: int | None = 0,
                 rows: np.ndarray | None = None) -> None:
        self.path = Path(path)
        self.codec, self.augment, self.seed = codec, augment, seed
        self.rows = np.asarray(rows, dtype=np.int64) if rows is not None else select_rows(path, subjects, frame_step)
        with open_h36m(self.path) as f:
            self.crop_size = int(f.attrs["crop_size"])
            self.subject_names = [_s(x) for x in f["names/subjects"][...]]
            self.action_names = [_s(x) for x in f["names/actions"][...]]
            self.camera_names = [_s(x) for x in f["names/cameras"][...]]
            n = int(f.attrs["rows"])
            self.zoom = framing_zoom(float(f.attrs.get("margin", 0.0)))
        if len(self.rows) and (self.rows.min() < 0 or self.rows.max() >= n):
            raise ValueError(f"row numbers outside 0..{n - 1} for {self.path}")
        self.epoch = 0
        self._file = None
        self._pid = -1

    def __len__(self) -> int:
        return len(self.rows)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_file"], state["_pid"] = None, -1  # never pickle an open h5py handle
        return state

    def _h5(self):
        if self._file is None or self._pid != os.getpid():
            self._file = open_h36m(self.path)
            self._pid = os.getpid()
        return self._file

    def raw(self, i: int, context: bool = False) -> dict[str, np.ndarray]:
        """Un-augmented row i (of this dataset): RGB crop at the file's crop size and its labels,
        in the training framing (a wider stored crop zoomed in, its box shrunk to match), or with
        `context` the crop as stored (its wider margin, zoom `self.zoom` from the framing)."""
        row = int(self.rows[i])
        f = self._h5()
        jpg = f["images"][row]
        bgr = cv2.imdecode(np.asarray(jpg, dtype=np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{self.path}: row {row} holds an unreadable JPEG")
        box = CropBox(*(float(v) for v in f["crop_box"][row]))
        if self.zoom > 1.0 and not context:
            s = bgr.shape[0]
            bgr = cv2.warpAffine(bgr, reframe_affine(s, s, self.zoom), (s, s), flags=cv2.INTER_LINEAR)
            box = CropBox.around(box.center, box.side / self.zoom)
        j2_img = f["joints2d"][row].astype(np.float64)
        j3_cam = f["joints3d"][row].astype(np.float64)
        # pseudo-labelled files (movnect label) carry a per-joint teacher confidence; rendered and
        # labelled files say which joints lie inside the camera image (`in_frame`)
        conf = f["confidence"][row].astype(np.float64) if "confidence" in f else np.ones(skeleton.NUM_JOINTS)
        in_frame = f["in_frame"][row].astype(np.float64) if "in_frame" in f else np.ones(skeleton.NUM_JOINTS)
        return {
            "image": cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB),
            "confidence": conf,
            "in_frame": in_frame,
            "joints2d": image_to_crop(j2_img, box, self.crop_size),
            "joints3d_camera": j3_cam,
            "box": box.as_array(),
            "row": row,
            "subject": int(f["subject"][row]),
            "action": int(f["action"][row]),
            "camera": int(f["camera"][row]),
        }

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not 0 <= i < len(self.rows):
            raise IndexError(f"index {i} out of range for {len(self.rows)} samples")
        size = self.codec.config.input_size
        r = self.raw(i, context=True)
        image, j2 = r["image"], r["joints2d"]
        pre = None
        if self.zoom > 1.0:  # stored with context: one warp from it (shrunk first, area filter)
            side = int(round(size * self.zoom))
            if image.shape[0] > side:
                j2 = j2 * (side / image.shape[0])
                image = fit_crop(image, side)
            pre = reframe_affine(image.shape[0], size, self.zoom)
        elif image.shape[0] != size:  # the network's crop differs from the stored one
            j2 = j2 * (size / image.shape[0])
            image = fit_crop(image, size)
        j3 = skeleton.root_relative(r["joints3d_camera"])
        # Two per-joint masks (flipped together by the augmentation):
        #  labelled: the label exists (the teacher's confidence >= 0.5; always for other files);
        #            gates everything: such a joint's target heatmap is zero, so neither its
        #            heatmap nor its location-map term (weighted by that heatmap) acts;
        #  seen:     labelled and inside the camera image (`in_frame`); gates the heatmap term
        #            only (mask2d). A joint outside the image, e.g. in a crop's black border,
        #            has no pixel evidence for a heatmap, but its 3D is known: its target
        #            heatmap is still drawn and weights its location maps, so it keeps 3D
        #            supervision wherever its 2D falls inside the crop (outside the crop a
        #            location map has no pixel to read it from).
        labelled = (r["confidence"] >= PSEUDO_LABEL_MIN_CONFIDENCE).astype(np.float32)
        masks = np.stack([labelled, labelled * (r["in_frame"] > 0)], axis=1)
        rng = augmentation_rng(self.seed, self.epoch, r["row"])
        image, j2, j3, masks = augment(image, j2, j3, masks, self.augment, rng, pre=pre, out_size=size)
        j2_t = torch.from_numpy(np.ascontiguousarray(j2, dtype=np.float32))
        j3_t = torch.from_numpy(np.ascontiguousarray(j3, dtype=np.float32))
        mask_t = torch.from_numpy(np.ascontiguousarray(masks[:, 1], dtype=np.float32))
        heat, loc = self.codec.encode(j2_t[None], j3_t[None],
                                      torch.from_numpy(np.ascontiguousarray(masks[:, 0], dtype=np.float32))[None])
        img_t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
        return {
            "image": self.codec.normalize(img_t)[0],
            "heatmaps": heat[0],
            "locmaps": loc[0],
            "joints2d": j2_t,
            "joints3d": j3_t,
            "mask2d": mask_t,
            "has3d": torch.tensor(1.0),
            "index": torch.tensor(r["row"], dtype=torch.int64),
            "action": torch.tensor(r["action"], dtype=torch.int64),
            "subject": torch.tensor(r["subject"], dtype=torch.int64),
            "camera": torch.tensor(r["camera"], dtype=torch.int64),
        }

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def fit_crop(image: np.ndarray, size: int) -> np.ndarray:
    """A square (s, s, 3) crop resized to (size, size, 3), the one rule for every consumer of stored
    crops (training, evaluation, calibration): area filter when shrinking, bilinear when enlarging;
    returned unchanged when s == size. Crop-pixel coordinates scale by size / s."""
    if image.ndim != 3 or image.shape[0] != image.shape[1] or image.shape[2] != 3:
        raise ValueError(f"fit_crop: expected a square (s, s, 3) crop, got {image.shape}")
    if image.shape[0] == size:
        return image
    interp = cv2.INTER_AREA if size < image.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interp)


def augmentation_rng(seed: int | None, epoch: int, item: int) -> np.random.Generator:
    """The generator of one sample's augmentation (see the module docstring)."""
    if seed is None:
        return np.random.default_rng(np.random.randint(0, 2**31 - 1))
    return np.random.default_rng([seed, epoch, item])


def _s(x) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)
