"""2D-only keypoint data (COCO, MPII) as training samples, for 2D pretraining and mixed batches.

Sources:
  * COCO person keypoints JSON (`person_keypoints_*.json`): `images` (id, file_name),
    `annotations` (image_id, keypoints [x, y, v] * 17, bbox [x, y, w, h], iscrowd). A keypoint
    counts as labelled when v > 0 (COCO: 1 labelled but hidden, 2 visible).
  * MPII in its common JSON form (a list of {"image", "joints" (16, 2), "joints_vis" (16,),
    "center" (2,), "scale"}, person box side = 200 * scale px). A joint is labelled when its
    joints_vis is > 0. Its coordinates are MATLAB's 1-based pixels: 1 is subtracted (our pixel
    centres are at integers from 0), and, as the common loaders do, the rough MPII person
    centre is moved down by 15 * scale px so the crop does not cut the legs.
Keypoints map onto the project's 17 joints with movnect.skeleton.map_keypoints (COCO_TO_17 /
MPII_TO_17); joints without a counterpart (spine, head, ... ) get mask 0.

Crops: a square around the person, side = (1 + 2 margin) x person size, where the person size is
max(bbox w, h) for COCO (a tight box around the pixels) and 200 * scale for MPII; centred on the
bbox centre / (shifted) MPII centre. Resampled straight to the codec's input size, then augmented with
movnect.data.transforms.augment (3D is zeros, so its rotation and flip are no-ops).

Items are the sample dict of docs/architecture.md with has3d = 0, zero location maps and 3D,
index / action / subject / camera = -1, heatmaps zero for unlabelled joints. Augmentation draws
from numpy.random.default_rng([seed, epoch, item]) like H36MDataset (call set_epoch), or
from numpy's global RNG when seed is None (the training loop seeds it per item).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from movnect import skeleton
from movnect.camera import CropBox, crop_image, image_to_crop
from movnect.codec import Codec
from movnect.data.dataset import augmentation_rng
from movnect.data.transforms import NO_AUGMENT, AugmentConfig, augment


@dataclass(frozen=True)
class Person2D:
    """One annotated person: image file (relative to the image folder), joints, crop centre/size."""

    image: str
    joints: np.ndarray      # (17, 2) image pixels, 0 where unlabelled
    mask: np.ndarray        # (17,) float32, 1 where labelled
    center: tuple[float, float]
    size: float             # person size in pixels (see module docstring)


def _read_json(path: Path, kind: str):
    if not path.is_file():
        raise FileNotFoundError(f"{kind} annotation file not found: {path}")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{kind} annotation file {path} is not valid JSON ({exc})".replace("\n", " ")) from None


def load_coco(path: str | Path, min_joints: int = 4) -> tuple[list[Person2D], dict[str, int]]:
    """People of a COCO keypoint file, and counts of the annotations left out by reason.

    Skips crowd annotations, boxes thinner than 2 px and people with fewer than `min_joints` of
    the 17 joints labelled. Raises ValueError naming the file for a malformed file.
    """
    path = Path(path)
    doc = _read_json(path, "COCO")
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list) or not isinstance(doc.get("annotations"), list):
        raise ValueError(f"{path} is not a COCO keypoint file (needs 'images' and 'annotations' lists)")
    try:
        files = {int(im["id"]): str(im["file_name"]) for im in doc["images"]}
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{path}: every image needs an 'id' and a 'file_name'") from None
    people: list[Person2D] = []
    skipped = {"crowd": 0, "few_joints": 0, "bad_box": 0}
    for ann in doc["annotations"]:
        aid = ann.get("id", "?") if isinstance(ann, dict) else "?"
        try:
            kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(17, 3)
            box = np.asarray(ann["bbox"], dtype=np.float64).reshape(4)
            image = files[int(ann["image_id"])]
            crowd = bool(ann.get("iscrowd", 0))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: annotation {aid} needs 'image_id' of a listed image, 'keypoints' "
                             "(51 numbers) and 'bbox' (4 numbers)") from None
        if crowd:
            skipped["crowd"] += 1
            continue
        if not np.isfinite(box).all() or min(box[2], box[3]) < 2.0:
            skipped["bad_box"] += 1
            continue
        joints, mask = skeleton.map_keypoints(kp[:, :2], kp[:, 2] > 0, skeleton.COCO_TO_17)
        if mask.sum() < min_joints:
            skipped["few_joints"] += 1
            continue
        center = (float(box[0] + box[2] / 2.0), float(box[1] + box[3] / 2.0))
        people.append(Person2D(image, joints, mask, center, float(max(box[2], box[3]))))
    return people, skipped


def load_mpii(path: str | Path, min_joints: int = 4, one_based: bool = True
              ) -> tuple[list[Person2D], dict[str, int]]:
    """People of an MPII JSON file (common list form), and counts left out by reason.

    Skips people with fewer than `min_joints` of the 17 joints labelled or a scale <= 0.
    one_based: the file's pixel coordinates start at 1 (the common JSON, converted from MATLAB);
    False for a file already in 0-based pixels.
    """
    path = Path(path)
    doc = _read_json(path, "MPII")
    if not isinstance(doc, list):
        raise ValueError(f"{path} is not an MPII JSON file (expected a list of people)")
    people: list[Person2D] = []
    skipped = {"few_joints": 0, "bad_box": 0}
    for k, entry in enumerate(doc):
        try:
            joints16 = np.asarray(entry["joints"], dtype=np.float64).reshape(16, 2)
            vis = np.asarray(entry["joints_vis"], dtype=np.float64).reshape(16)
            center = np.asarray(entry["center"], dtype=np.float64).reshape(2)
            scale = float(entry["scale"])
            image = str(entry["image"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: entry {k} needs 'image', 'joints' (16x2), 'joints_vis' (16), "
                             "'center' (2) and 'scale'") from None
        if not scale > 0 or not np.isfinite(center).all():
            skipped["bad_box"] += 1
            continue
        shift = 1.0 if one_based else 0.0
        joints, mask = skeleton.map_keypoints(joints16 - shift, vis > 0, skeleton.MPII_TO_17)
        if mask.sum() < min_joints:
            skipped["few_joints"] += 1
            continue
        center = (float(center[0] - shift), float(center[1] - shift + 15.0 * scale))
        people.append(Person2D(image, joints, mask, center, 200.0 * scale))
    return people, skipped


class Keypoints2DDataset(Dataset):
    """Person crops with 2D labels only; see the module docstring.

    Args:
        people: annotated people (load_coco / load_mpii).
        image_dir: folder the people's image paths are relative to.
        codec: target encoder; its input_size is the crop size.
        augment: augmentation settings (NO_AUGMENT for evaluation).
        seed: base seed of the augmentation, or None to draw from numpy's global RNG.
        margin: crop side = (1 + 2 margin) x person size.
        name: source name used in messages ("COCO", "MPII").
    """

    def __init__(self, people: list[Person2D], image_dir: str | Path, codec: Codec,
                 augment: AugmentConfig = NO_AUGMENT, seed: int | None = 0, margin: float = 0.2,
                 name: str = "2D") -> None:
        self.image_dir = Path(image_dir)
        if not self.image_dir.is_dir():
            raise FileNotFoundError(f"{name} image folder not found: {self.image_dir}")
        if not 0.0 <= margin <= 2.0:
            raise ValueError(f"margin must lie in [0, 2], got {margin}")
        self.people, self.codec, self.augment, self.seed, self.margin = people, codec, augment, seed, margin
        self.name = name
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.people)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def box(self, i: int) -> CropBox:
        """Square crop box of item i in image pixels."""
        p = self.people[i]
        return CropBox.around(p.center, p.size * (1.0 + 2.0 * self.margin))

    def raw(self, i: int) -> dict[str, np.ndarray]:
        """Un-augmented item i: RGB crop (S, S, 3) uint8 at the codec size, joints (17, 2) crop px, mask."""
        p = self.people[i]
        path = self.image_dir / p.image
        if not path.is_file():
            raise FileNotFoundError(f"{self.name} image file not found: {path}")
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{self.name} image file {path} cannot be decoded")
        size = self.codec.config.input_size
        box = self.box(i)
        crop = crop_image(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), box, size)
        joints = np.where(p.mask[:, None] > 0, image_to_crop(p.joints, box, size), 0.0)
        return {"image": crop, "joints2d": joints, "mask": p.mask.copy(), "box": box.as_array()}

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not 0 <= i < len(self.people):
            raise IndexError(f"index {i} out of range for {len(self.people)} samples")
        r = self.raw(i)
        zeros3d = np.zeros((skeleton.NUM_JOINTS, 3))
        rng = augmentation_rng(self.seed, self.epoch, i)
        image, j2, _, mask = augment(r["image"], r["joints2d"], zeros3d, r["mask"], self.augment, rng)
        j2 = np.where(mask[:, None] > 0, j2, 0.0)
        j2_t = torch.from_numpy(np.ascontiguousarray(j2, dtype=np.float32))
        mask_t = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))
        heat = self.codec.encode_heatmaps(j2_t[None], mask_t[None])[0]
        n, j = self.codec.map_size, skeleton.NUM_JOINTS
        img_t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
        minus_one = torch.tensor(-1, dtype=torch.int64)
        return {
            "image": self.codec.normalize(img_t)[0],
            "heatmaps": heat,
            "locmaps": torch.zeros(3 * j, n, n),
            "joints2d": j2_t,
            "joints3d": torch.zeros(j, 3),
            "mask2d": mask_t,
            "has3d": torch.tensor(0.0),
            "index": minus_one,
            "action": minus_one.clone(),
            "subject": minus_one.clone(),
            "camera": minus_one.clone(),
        }


class CocoKeypoints(Keypoints2DDataset):
    """COCO person keypoints: `CocoKeypoints(json, image_dir, codec, ...)`; `skipped` counts by reason."""

    def __init__(self, annotations: str | Path, image_dir: str | Path, codec: Codec,
                 augment: AugmentConfig = NO_AUGMENT, seed: int | None = 0, min_joints: int = 4,
                 margin: float = 0.2) -> None:
        people, self.skipped = load_coco(annotations, min_joints)
        super().__init__(people, image_dir, codec, augment, seed, margin, "COCO")


class MpiiKeypoints(Keypoints2DDataset):
    """MPII (common JSON form): `MpiiKeypoints(json, image_dir, codec, ...)`; `skipped` counts by reason."""

    def __init__(self, annotations: str | Path, image_dir: str | Path, codec: Codec,
                 augment: AugmentConfig = NO_AUGMENT, seed: int | None = 0, min_joints: int = 4,
                 margin: float = 0.2, one_based: bool = True) -> None:
        people, self.skipped = load_mpii(annotations, min_joints, one_based)
        super().__init__(people, image_dir, codec, augment, seed, margin, "MPII")
