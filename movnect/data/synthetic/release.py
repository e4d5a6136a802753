"""A synthetic Human3.6M release (`movnect synth`), for tests and benchmarks without the data.

Same layout as the official release:
  S*/MyPoseFeatures/D3_Positions/<file action>.cdf   'Pose' (1, N, 96) float32, world mm, 32 joints
  S*/Videos/<file action>.<camera>.mp4               50 fps, mp4v, real Human3.6M cameras
File names are the real release's, from the official subaction table (metadata.xml, package
data `h36m_subactions.json`): take 0 is the subject's subaction 1, take 1 its subaction 2 (e.g.
S1 Directions -> 'Directions 1', 'Directions'; S11 Phoning -> 'Phoning 3', 'Phoning 2'; S1
writes 'TakingPhoto' / 'WalkingDog', the others 'Photo' / 'WalkDog'), so prepare-h36m's name
mapping and subaction numbering meet the release's quirks. A third take (not in the release)
gets the first free 'X k' name.

Known damaged takes (`release_quirks`, on by default; h36m_release.damaged_takes) are damaged
as in the release: S9 Greeting, SittingDown 1 and Waiting 1 get a mocap file half as long as
their videos, S11 Directions.54138969.mp4 is truncated (unreadable, like the corrupt download).

Resolution: `image_size` is the video width. 1000 (default) renders at the cameras' real
resolution and writes nothing else: the release is read with the package's cameras exactly as a
real one. Smaller sizes scale the intrinsics by s = image_size / 1000 (f' = s f,
c' = s (c + 0.5) - 0.5, height rounded to even for the codec) and write those cameras to
`movnect_cameras.json` at the root, which prepare-h36m reads when present.

Everything is deterministic for a seed: subject look and room depend on (seed, subject), each
take's motion on (seed, subject, action, take), independent of what else is generated.

The tree itself (names, damaged takes, camera override, summary) is written by
`write_release_tree` from any `ReleaseSource`: the stick-figure renderer here, Anny bodies in
movnect.data.anny.release. `write_camera_poses` adds the release's per-camera pose files
(D3_Positions_mono, D2_Positions); the stick release does not write them.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Protocol

import cv2
import numpy as np

from movnect import atomic
from movnect import camera as cam
from movnect.data.h36m_release import ACTIONS, CAMERA_OVERRIDE, camera_facts, damaged_take, subaction_table
from movnect.data.synthetic.body import generate_motion
from movnect.data.synthetic.motion import Motion
from movnect.data.synthetic.room import render_background, sample_scene
from movnect.data.synthetic.scene import h36m_region, render_frame, sample_actor


@dataclass(frozen=True)
class SynthConfig:
    subjects: tuple[str, ...] = ("S1", "S9")
    actions: tuple[str, ...] = ("Walking", "Sitting")
    subactions: int = 2              # takes per action (the release has 2)
    frames: int = 200                # frames per take (50 fps)
    cameras: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
    image_size: int = 1000           # video width in pixels; 1000 = the cameras' real resolution
    seed: int = 0
    release_quirks: bool = True      # reproduce the known damaged takes (h36m_release.damaged_takes)

    def __post_init__(self) -> None:
        known = cam.h36m_subjects()
        bad = [s for s in self.subjects if s not in known]
        if bad or not self.subjects:
            raise ValueError(f"subjects must be among {', '.join(known)}; got {self.subjects}")
        bad = [a for a in self.actions if a not in ACTIONS]
        if bad or not self.actions:
            raise ValueError(f"unknown action(s) {bad}; choose from {', '.join(ACTIONS)}")
        bad = [c for c in self.cameras if c not in cam.h36m_camera_ids()]
        if bad or not self.cameras:
            raise ValueError(f"unknown camera(s) {bad}; choose from {', '.join(cam.h36m_camera_ids())}")
        if self.frames < 1 or not 1 <= self.subactions <= 3:
            raise ValueError(f"need frames >= 1 and 1 <= subactions <= 3, got {self.frames}, {self.subactions}")
        if not 32 <= self.image_size <= 1000 or self.image_size % 2:
            raise ValueError(f"image_size must be even and in [32, 1000], got {self.image_size}")


def _number(subject: str) -> int:
    return int(re.fullmatch(r"S(\d+)", subject).group(1))  # type: ignore[union-attr]


def file_action_name(subject: str, action: str, take: int) -> str:
    """Release file name of take `take` (0-based) of a canonical action: the official name of
    subaction take + 1 (`h36m_release.subaction_table`); takes beyond the release's two get the
    first free '<base> k' (k = 1, 2, ...)."""
    official = subaction_table()[subject][action]
    if take < len(official):
        return official[take]
    base = re.sub(r" \d+$", "", official[0])
    names = set(official) | {file_action_name(subject, action, t) for t in range(len(official), take)}
    k = 1
    while f"{base} {k}" in names:
        k += 1
    return f"{base} {k}"


def scaled_intrinsics(intr: cam.Intrinsics, width: int) -> cam.Intrinsics:
    """Intrinsics of the same lens for an image `width` pixels wide (pixel centres at integers)."""
    s = width / intr.width
    height = 2 * int(round(intr.height * s / 2))
    return cam.Intrinsics((intr.focal[0] * s, intr.focal[1] * s),
                          ((intr.center[0] + 0.5) * s - 0.5, (intr.center[1] + 0.5) * s - 0.5),
                          intr.radial, intr.tangential, width, height)


def synth_cameras(subject: str, camera_ids: tuple[str, ...], image_size: int) -> list[cam.Camera]:
    """The subject's real cameras with intrinsics scaled to `image_size` wide videos."""
    out = []
    for cid in camera_ids:
        c = cam.h36m_camera(subject, cid)
        if image_size != c.intrinsics.width:
            c = replace(c, intrinsics=scaled_intrinsics(c.intrinsics, image_size))
        out.append(c)
    return out


class _Subject:
    """Everything fixed per subject: body, clothes, room, cameras and their backgrounds."""

    def __init__(self, subject: str, cfg: SynthConfig) -> None:
        rng = np.random.default_rng([cfg.seed, _number(subject), 1])
        self.actor = sample_actor(rng)
        self.cameras = synth_cameras(subject, cfg.cameras, cfg.image_size)
        self.region = h36m_region(subject)  # the subject's four real views, whatever cfg.cameras holds
        self.scene = sample_scene(rng, tuple(self.region.center))  # one room, drawn per camera below
        self._bg: dict[str, np.ndarray] = {}

    def background(self, camera: cam.Camera) -> np.ndarray:
        if camera.name not in self._bg:
            self._bg[camera.name] = render_background(self.scene, camera)
        return self._bg[camera.name]


def write_pose_cdf(path: Path, poses: np.ndarray) -> None:
    """Write (N, 32, 3) poses (mm) or (N, 32, 2) image points (px) as a release CDF: zVariable
    'Pose' (1, N, 96) or (1, N, 64) float32, as the release's D3_Positions* and D2_Positions."""
    from cdflib.cdfwrite import CDF

    poses = np.asarray(poses)
    if poses.ndim != 3 or poses.shape[1] != 32 or poses.shape[2] not in (2, 3):
        raise ValueError(f"write_pose_cdf: expected (N, 32, 3) or (N, 32, 2) poses, got {poses.shape}")
    width = 32 * poses.shape[2]
    path.unlink(missing_ok=True)
    f = CDF(str(path), {"Majority": "row_major", "Compressed": False})
    try:
        f.write_var({"Variable": "Pose", "Data_Type": CDF.CDF_FLOAT, "Num_Elements": 1, "Rec_Vary": True,
                     "Dim_Sizes": [poses.shape[0], width]},
                    var_attrs={}, var_data=poses.reshape(1, -1, width).astype(np.float32))
    finally:
        f.close()


def write_camera_poses(subject_dir: Path, stem: str, mocap: np.ndarray, cameras: list[cam.Camera]) -> None:
    """The release's per-camera pose files of one take, from its world poses (N, 32, 3) mm:
    MyPoseFeatures/D3_Positions_mono/<stem>.<camera>.cdf (camera frame, mm, `world_to_camera`)
    and MyPoseFeatures/D2_Positions/<stem>.<camera>.cdf (distorted projection, pixels of the
    camera's video, `camera.project`). prepare-h36m does not read them (it derives both)."""
    mono_dir = subject_dir / "MyPoseFeatures" / "D3_Positions_mono"
    d2_dir = subject_dir / "MyPoseFeatures" / "D2_Positions"
    mono_dir.mkdir(parents=True, exist_ok=True)
    d2_dir.mkdir(parents=True, exist_ok=True)
    for camera in cameras:
        mono = cam.world_to_camera(np.asarray(mocap, dtype=np.float64), camera.extrinsics)
        write_pose_cdf(mono_dir / f"{stem}.{camera.name}.cdf", mono)
        write_pose_cdf(d2_dir / f"{stem}.{camera.name}.cdf", cam.project(mono, camera.intrinsics))


class ReleaseSource(Protocol):
    """What a renderer hands `write_release_tree`: per subject its cameras, per take its world
    poses, per camera the take's video. Calls come in tree order: cameras(subject), then for
    each take motion(...) followed by write_video(...) for each of that subject's cameras."""

    def cameras(self, subject: str) -> list[cam.Camera]:
        """The subject's cameras (video size = the intrinsics' width x height)."""
        ...

    def motion(self, subject: str, action: str, take: int) -> np.ndarray:
        """World joints (cfg.frames, 32, 3) mm of take `take` (0-based); makes it the current take."""
        ...

    def write_video(self, path: Path, camera: cam.Camera) -> None:
        """Render the current take through `camera` into an mp4 video at 50 fps."""
        ...


class _StickSource:
    """The stick-figure renderer as a ReleaseSource."""

    def __init__(self, cfg: SynthConfig) -> None:
        self.cfg = cfg
        self._subj: _Subject | None = None
        self._motion: Motion | None = None

    def cameras(self, subject: str) -> list[cam.Camera]:
        self._subj = _Subject(subject, self.cfg)
        return self._subj.cameras

    def motion(self, subject: str, action: str, take: int) -> np.ndarray:
        assert self._subj is not None
        rng = np.random.default_rng([self.cfg.seed, _number(subject), 2, ACTIONS.index(action), take])
        self._motion = generate_motion(action, self._subj.actor.shape, self._subj.region, self.cfg.frames, rng)
        return self._motion.joints

    def write_video(self, path: Path, camera: cam.Camera) -> None:
        assert self._subj is not None and self._motion is not None
        write_video(path, self._subj, self._motion, camera)


def write_release(out: str | Path, cfg: SynthConfig = SynthConfig(),
                  progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Generate the stick-figure release tree under `out`; returns a summary dict (takes, frames,
    seconds). progress(name, done, total) is called after each video."""
    return write_release_tree(out, cfg, _StickSource(cfg), progress)


PROGRESS_FILE = ".synth_progress.json"   # finished takes of a release being written (resume)
PARTIAL_DIR = ".partial"                  # videos being written; renamed into place when complete


def release_fingerprint(cfg: SynthConfig, source: object, camera_poses: bool) -> dict:
    """What makes two writes of a release the same: the config, the renderer, the pose files."""
    return json.loads(json.dumps({"config": asdict(cfg), "renderer": type(source).__name__,
                                  "camera_poses": camera_poses}, default=str))


def _finished_takes(out: Path, fingerprint: dict) -> set[str]:
    """Takes ('S1/Walking 1') an earlier, interrupted write of the same release finished.
    ValueError when the folder holds a release written with other settings."""
    path = out / PROGRESS_FILE
    if not path.is_file():
        return set()
    try:
        state = json.loads(path.read_text())
        done, earlier = set(state["takes"]), state["fingerprint"]
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{path} is unreadable; delete it (or the folder) to write the release again") from None
    if earlier != fingerprint:
        raise ValueError(f"{out} holds a release written with other settings ({PROGRESS_FILE}); "
                         "write into a new folder, or delete this one")
    return done


def write_release_tree(out: str | Path, cfg: SynthConfig, source: ReleaseSource,
                       progress: Callable[[str, int, int], None] | None = None,
                       camera_poses: bool = False) -> dict:
    """Write the release tree of `cfg` under `out` with `source`'s poses and videos: file names,
    the known damaged takes (cfg.release_quirks), the camera override below 1000 px and the
    summary are the same whatever renders. camera_poses: also the per-camera pose files
    (`write_camera_poses`).

    Resumable per take: each video is written under <out>/.partial and renamed into place when
    complete, and a take is recorded in <out>/.synth_progress.json once all its files are; a
    second call with the same settings skips the recorded takes (sources are seeded per take,
    so the tree is the same as an uninterrupted write). Returns {out, videos, frames, seconds,
    frames_per_s, reused_takes} (frames and frames_per_s: rendered by this call)."""
    import os
    import time

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fingerprint = release_fingerprint(cfg, source, camera_poses)
    finished = _finished_takes(out, fingerprint)
    partial = out / PARTIAL_DIR
    total = len(cfg.subjects) * len(cfg.actions) * cfg.subactions * len(cfg.cameras)
    done, frames, t0, render_s, reused = 0, 0, time.perf_counter(), 0.0, 0
    override: dict[str, dict[str, cam.Camera]] = {}
    for subject in cfg.subjects:
        cameras = source.cameras(subject)
        override[subject] = {c.name: c for c in cameras}
        pose_dir = out / subject / "MyPoseFeatures" / "D3_Positions"
        video_dir = out / subject / "Videos"
        pose_dir.mkdir(parents=True, exist_ok=True)
        video_dir.mkdir(parents=True, exist_ok=True)
        for action in cfg.actions:
            for take in range(cfg.subactions):
                stem = file_action_name(subject, action, take)
                key = f"{subject}/{stem}"
                if key in finished:
                    reused += 1
                    for camera in cameras:
                        done += 1
                        if progress:
                            progress(f"{key}.{camera.name}", done, total)
                    continue
                joints = source.motion(subject, action, take)
                damaged = damaged_take(subject, stem) if cfg.release_quirks else None
                mocap = joints
                if damaged is not None and damaged.cameras is None:  # mocap about half the video
                    mocap = mocap[:max(1, len(mocap) // 2)]
                write_pose_cdf(pose_dir / f"{stem}.cdf", mocap)
                if camera_poses:
                    write_camera_poses(out / subject, stem, mocap, cameras)
                partial.mkdir(exist_ok=True)
                for camera in cameras:
                    t1 = time.perf_counter()
                    video = video_dir / f"{stem}.{camera.name}.mp4"
                    tmp = partial / f"{subject}.{stem}.{camera.name}.mp4"
                    source.write_video(tmp, camera)
                    if damaged is not None and damaged.covers(subject, stem, camera.name) and damaged.cameras:
                        data = tmp.read_bytes()  # a corrupt download: the end (with the index) is missing
                        tmp.write_bytes(data[:len(data) // 3])
                    os.replace(tmp, video)
                    render_s += time.perf_counter() - t1
                    frames += cfg.frames
                    done += 1
                    if progress:
                        progress(f"{key}.{camera.name}", done, total)
                finished.add(key)
                atomic.write_text(out / PROGRESS_FILE, json.dumps(
                    {"fingerprint": fingerprint, "takes": sorted(finished)}, indent=1))
    if partial.is_dir() and not any(partial.iterdir()):
        partial.rmdir()
    if cfg.image_size != 1000:
        atomic.write_text(out / CAMERA_OVERRIDE, json.dumps(camera_facts(override), indent=1))
    seconds = time.perf_counter() - t0
    return {"out": str(out), "videos": total, "frames": frames, "seconds": seconds,
            "frames_per_s": frames / max(render_s, 1e-9), "reused_takes": reused}


def open_video_writer(path: Path, width: int, height: int):  # -> cv2.VideoWriter
    """An opened mp4v cv2.VideoWriter at 50 fps (the release's rate); OSError when it cannot write."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 50.0, (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write the video {path} (mp4v codec missing?)")
    return writer


def write_video(path: Path, subj: _Subject, motion: Motion, camera: cam.Camera) -> None:
    """Render every frame of `motion` through `camera` into an mp4v video at 50 fps."""
    writer = open_video_writer(path, camera.intrinsics.width, camera.intrinsics.height)
    bg = subj.background(camera)
    try:
        for k in range(motion.joints.shape[0]):
            writer.write(render_frame(bg, subj.actor, motion, k, camera))
    finally:
        writer.release()
