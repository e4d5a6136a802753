"""Reading a Human3.6M release tree: sequences, action names, cameras, CDF poses, videos.

Layouts: the official one, S*/MyPoseFeatures/D3_Positions/<file action>.cdf, and h36m-fetch's
extracted one (`extracted/S*/Poses_D3_Positions/<file action>.cdf`, same files, other folder;
give `extracted` as the root) are both read (`pose_folder`). Pose files: variable 'Pose',
(1, N, 96) world mm, 32 joints) and S*/Videos/<file action>.<camera id>.mp4 (50 fps).
File action names vary ('TakingPhoto' vs 'Photo', 'WalkingDog' vs 'WalkDog', 'Directions 1');
`canonical_action` maps them onto the 15 canonical actions.

Subactions follow the official numbering of the release's metadata.xml (package data
movnect/resources/h36m_subactions.json, `subaction_table`): e.g. S1 Directions 1 is
`Directions 1.*`, 2 is `Directions.*`; S11 Phoning 1 is `Phoning 3.*`. The rank of the sorted
file names differs for 85 of the 105 public subject/action pairs, so it is never used for a
file the table knows; a file it does not know (not in the real release) is numbered after the
official takes, by name order, with a note.

Cameras come from the package data (movnect.camera.h36m_camera) unless the release root holds
a `movnect_cameras.json` override in the same schema: the synthetic generator writes one when it
renders at reduced resolution (intrinsics scaled); real releases never have it.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from movnect import camera as cam

ACTIONS: tuple[str, ...] = (
    "Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing", "Purchases",
    "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking", "WalkTogether",
)
_ALIASES = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog"}
CAMERA_OVERRIDE = "movnect_cameras.json"
FPS = 50


class SequenceError(Exception):
    """A sequence that cannot be converted (bad CDF, unreadable video); the run goes on."""


@dataclass(frozen=True)
class Sequence:
    """One (subject, file action, camera) of a release."""

    subject: str
    stem: str           # file action name, e.g. 'Directions 1'
    action: str         # canonical action, e.g. 'Directions'
    subaction: int      # official 1-based subaction number (metadata.xml; `subaction_table`)
    camera: str
    cdf_path: Path
    video_path: Path

    @property
    def name(self) -> str:
        return f"{self.subject}/{self.stem}.{self.camera}"


def canonical_action(stem: str) -> str | None:
    """'Directions 1' -> 'Directions', 'TakingPhoto' -> 'Photo'; None for unknown names."""
    m = re.fullmatch(r"(.+?)(?: \d+)?", stem.strip())
    base = m.group(1) if m else stem
    base = _ALIASES.get(base, base)
    return base if base in ACTIONS else None


@lru_cache(maxsize=1)
def subaction_table() -> dict[str, dict[str, tuple[str, ...]]]:
    """{subject: {canonical action: (file name of subaction 1, of subaction 2)}} for the seven
    public subjects, from the package data (metadata.xml's mapping; source in the JSON file)."""
    text = resources.files("movnect").joinpath("resources/h36m_subactions.json").read_text()
    data = json.loads(text)["subactions"]
    return {s: {a: tuple(v) for a, v in acts.items()} for s, acts in data.items()}


def official_subaction(subject: str, stem: str) -> int | None:
    """Official subaction number (1 or 2) of a release file name, None when the table lacks it.

    >>> official_subaction("S1", "Directions"), official_subaction("S11", "Phoning 3")
    (2, 1)
    """
    action = canonical_action(stem)
    takes = subaction_table().get(subject, {}).get(action or "", ())
    return takes.index(stem) + 1 if stem in takes else None


def number_takes(subject: str, stems: list[str]) -> tuple[dict[str, int], list[str]]:
    """Subaction numbers of one subject's file names of ONE action: official numbers from the
    table; names it lacks get the next free numbers in name order, each with a note."""
    numbers = {stem: n for stem in stems if (n := official_subaction(subject, stem)) is not None}
    notes, nxt = [], max(numbers.values(), default=0) + 1
    for stem in sorted(st for st in stems if st not in numbers):
        while nxt in numbers.values():
            nxt += 1
        numbers[stem] = nxt
        notes.append(f"{subject}/{stem}: not in the official subaction table (metadata.xml), numbered {nxt}")
        nxt += 1
    return numbers, notes


@dataclass(frozen=True)
class DamagedTake:
    """A known damaged take (package data movnect/resources/h36m_damaged.json)."""

    subject: str
    stem: str
    subaction: int
    cameras: tuple[str, ...] | None   # None: every camera
    reason: str
    source: str

    def covers(self, subject: str, stem: str, camera: str | None = None) -> bool:
        """True for this take's (subject, stem) and, when given, an affected camera."""
        if (subject, stem) != (self.subject, self.stem):
            return False
        return camera is None or self.cameras is None or camera in self.cameras

    @property
    def label(self) -> str:
        where = "all cameras" if self.cameras is None else "camera " + ", ".join(self.cameras)
        return f"{self.subject}/{self.stem} ({where})"


@lru_cache(maxsize=1)
def damaged_takes() -> tuple[DamagedTake, ...]:
    """The known damaged takes: S9 Greeting, SittingDown 1, Waiting 1 (mocap about half the video,
    misaligned) and S11 Directions camera 54138969 (corrupt video in older downloads)."""
    text = resources.files("movnect").joinpath("resources/h36m_damaged.json").read_text()
    out = []
    for t in json.loads(text)["takes"]:
        cams = None if t["cameras"] == "all" else tuple(t["cameras"])
        out.append(DamagedTake(t["subject"], t["stem"], int(t["subaction"]), cams, t["reason"], t["source"]))
    return tuple(out)


def damaged_take(subject: str, stem: str, camera: str | None = None) -> DamagedTake | None:
    """The damaged-take entry covering (subject, file name, camera), or None."""
    return next((t for t in damaged_takes() if t.covers(subject, stem, camera)), None)


def split_damaged(sequences: list[Sequence]) -> tuple[list[Sequence], list[Sequence]]:
    """(sequences that are not known to be damaged, those that are), order kept."""
    bad = [s for s in sequences if damaged_take(s.subject, s.stem, s.camera) is not None]
    return [s for s in sequences if s not in bad], bad


def subject_key(subject: str) -> tuple[int, str]:
    """Sort key putting S2 before S11."""
    m = re.fullmatch(r"S(\d+)", subject)
    return (int(m.group(1)), subject) if m else (10**6, subject)


def discover(root: str | Path, subjects: tuple[str, ...] | None = None,
             cameras: tuple[str, ...] | None = None) -> tuple[list[Sequence], list[str]]:
    """All convertible sequences under a release root, plus one-line problems found on the way.

    Raises FileNotFoundError when the root or its pose files are missing, ValueError for a
    requested subject that is not in the release.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Human3.6M release root not found: {root}")
    _check_readable(root, subjects)
    found_subjects = sorted((p.name for p in root.glob("S*") if pose_folder(p) is not None), key=subject_key)
    if not found_subjects:
        hint = ""
        if any(root.glob("S*/Poses_D3_Positions_mono*")) or any(root.glob("*/S*/Poses_D3_Positions")):
            hint = (" (h36m-fetch: give its `extracted` folder as the root, and extract the world poses "
                    "Poses_D3_Positions_S*.tgz there too; the _mono / _mono_universal ones are not read)")
        raise FileNotFoundError(
            f"no S*/MyPoseFeatures/D3_Positions (official) or S*/Poses_D3_Positions (h36m-fetch) folders under "
            f"{root}: is this the Human3.6M release root?{hint}")
    if subjects is not None:
        missing = [s for s in subjects if s not in found_subjects]
        if missing:
            raise ValueError(f"subject(s) {', '.join(missing)} not in release {root} (has {', '.join(found_subjects)})")
        found_subjects = [s for s in found_subjects if s in subjects]
    if cameras is None:  # the cameras that have videos in this release, in canonical order
        present = {v.stem.rsplit(".", 1)[-1] for s in found_subjects for v in (root / s / "Videos").glob("*.mp4")}
        cams = tuple(c for c in cam.h36m_camera_ids() if c in present) or cam.h36m_camera_ids()
    else:
        cams = tuple(cameras)
    sequences, problems = [], []
    for subject in found_subjects:
        takes: dict[str, list[str]] = {}
        poses_dir = pose_folder(root / subject)
        for cdf in sorted(poses_dir.glob("*.cdf")):  # type: ignore[union-attr]
            action = canonical_action(cdf.stem)
            if action is None:
                problems.append(f"{subject}/{cdf.name}: not one of the 15 actions, ignored")
                continue
            takes.setdefault(action, []).append(cdf.stem)
        for action, stems in takes.items():
            numbers, notes = number_takes(subject, stems)
            problems.extend(notes)
            for stem in sorted(stems):
                sub = numbers[stem]
                cdf_path = poses_dir / f"{stem}.cdf"  # type: ignore[operator]
                for c in cams:
                    video = root / subject / "Videos" / f"{stem}.{c}.mp4"
                    seq = Sequence(subject, stem, action, sub, c, cdf_path, video)
                    if not video.is_file():
                        problems.append(f"{seq.name}: video missing ({video}), skipped")
                        continue
                    sequences.append(seq)
    sequences.sort(key=lambda s: (subject_key(s.subject), s.stem, s.camera))
    return sequences, problems


POSE_FOLDERS = (Path("MyPoseFeatures") / "D3_Positions", Path("Poses_D3_Positions"))  # official, h36m-fetch


def pose_folder(subject_dir: Path) -> Path | None:
    """The subject's world-pose folder in the official or h36m-fetch's extracted layout, or None."""
    for rel in POSE_FOLDERS:
        if (subject_dir / rel).is_dir():
            return subject_dir / rel
    return None


def _check_readable(root: Path, subjects: tuple[str, ...] | None) -> None:
    """PermissionError naming the folder if a (requested) subject's folders cannot be listed;
    `glob` would skip them without a word and the subject would silently be missing."""
    _listdir(root, "release root")
    for folder in sorted(root.glob("S*")):
        if subjects is not None and folder.name not in subjects:
            continue
        for sub in (folder, folder / "MyPoseFeatures", folder / "MyPoseFeatures" / "D3_Positions",
                    folder / "Poses_D3_Positions", folder / "Videos"):
            if _listdir(sub, f"subject {folder.name}: folder") is None:
                break


def _listdir(folder: Path, what: str) -> list[str] | None:
    try:
        return os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except PermissionError as exc:
        raise PermissionError(f"{what} {folder} is unreadable ({exc.strerror}); fix its permissions "
                              "or leave the subject out with --subjects") from None


# ---------------------------------------------------------------------------------------------
# Cameras


def _camera_from_facts(facts: dict, subject: str, camera_id: str, source: str) -> cam.Camera:
    try:
        i = facts["intrinsics"][camera_id]
        e = facts["extrinsics"][subject][camera_id]
    except KeyError:
        raise ValueError(f"{source} has no camera {camera_id} for subject {subject}") from None
    intr = cam.Intrinsics(tuple(i["focal_length"]), tuple(i["center"]), tuple(i["radial_distortion"]),
                          tuple(i["tangential_distortion"]), int(i["res_w"]), int(i["res_h"]))
    return cam.Camera(camera_id, intr, cam.Extrinsics(tuple(e["orientation"]), tuple(e["translation"])))


def release_camera(root: str | Path, subject: str, camera_id: str) -> cam.Camera:
    """The camera of one subject's sequence: the release's override file if any, else package data."""
    override = Path(root) / CAMERA_OVERRIDE
    if override.is_file():
        return _camera_from_facts(_read_override(str(override)), subject, camera_id, str(override))
    return cam.h36m_camera(subject, camera_id)


_OVERRIDE_CACHE: dict[str, dict] = {}


def _read_override(path: str) -> dict:
    if path not in _OVERRIDE_CACHE:
        try:
            _OVERRIDE_CACHE[path] = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"camera override {path} is unreadable: {exc}") from None
    return _OVERRIDE_CACHE[path]


def camera_facts(cameras: dict[str, dict[str, cam.Camera]]) -> dict:
    """Override-file JSON for {subject: {camera id: Camera}} (the package data's schema)."""
    intr, extr = {}, {}
    for subject, by_id in cameras.items():
        extr[subject] = {}
        for cid, c in by_id.items():
            i = c.intrinsics
            intr[cid] = {"center": list(i.center), "focal_length": list(i.focal),
                         "radial_distortion": list(i.radial), "tangential_distortion": list(i.tangential),
                         "res_w": i.width, "res_h": i.height}
            extr[subject][cid] = {"orientation": list(c.extrinsics.orientation),
                                  "translation": list(c.extrinsics.translation)}
    order = [c for c in cam.h36m_camera_ids() if c in intr]
    return {"about": "Cameras of a synthetic release rendered at reduced resolution: Human3.6M "
                     "extrinsics, intrinsics scaled to the video size (read by prepare-h36m).",
            "camera_order": order, "intrinsics": intr, "extrinsics": extr}


# ---------------------------------------------------------------------------------------------
# Pose files and videos


def read_poses(path: str | Path) -> np.ndarray:
    """World poses of a release CDF file: (N, 32, 3) float64 mm.

    Raises SequenceError with a one-line message for missing, truncated or malformed files.
    """
    import cdflib

    path = Path(path)
    try:
        pose = np.asarray(cdflib.CDF(str(path)).varget("Pose"), dtype=np.float64)
    except Exception as exc:  # cdflib raises assorted errors on damaged files
        raise SequenceError(f"truncated or unreadable CDF file {path} ({type(exc).__name__}: {exc})") from None
    if pose.ndim == 3 and pose.shape[0] == 1:
        pose = pose[0]
    if pose.ndim != 2 or pose.shape[1] != 96 or pose.shape[0] < 1:
        raise SequenceError(f"CDF file {path}: expected 'Pose' of shape (1, N, 96), got {pose.shape}")
    if not np.isfinite(pose).all():
        raise SequenceError(f"CDF file {path}: 'Pose' holds NaN or infinite values")
    return pose.reshape(-1, 32, 3)


def open_video(path: str | Path):  # -> cv2.VideoCapture
    """An opened cv2.VideoCapture; SequenceError when the file cannot be decoded."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SequenceError(f"unreadable video {path} (OpenCV cannot open it)")
    return cap
