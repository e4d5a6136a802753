"""Rendered Anny people in the official Human3.6M release layout (`movnect synth --renderer anny
--layout release`): CDF poses + one MP4 per camera, for the ingestion tests of prepare-h36m.

The tree, file names, known damaged takes, the camera override below 1000 px and the summary
are the stick-figure release's (`synthetic.release.write_release_tree`, `synthetic.release.SynthConfig`); what
differs is who renders:

Per subject, everything from numpy.random.default_rng([seed, subject number, k]) (k = 101 body
and clothes, 103 room, 104 light), so a subject looks the same in every take and whatever else
is generated: an Anny body (sampled phenotype and stature, skin tone), an outfit, a box room
holding the subject's four real cameras and the whole capture region (furniture kept clear of
it), and one light.

Per take (default_rng([seed, subject number, 102, action index, take])): the action's motion
from the Anny renderer's motion tracks inside the four Human3.6M views (`motion.h36m_region`),
posed at every frame (50 fps); each frame is lifted so its lowest vertex touches the floor
(z = 0, Human3.6M's floor), sitting takes get a seat under the thighs (the room of the subject
plus that seat).

Per camera and frame: the subject's real camera (`synthetic.release.synth_cameras`: intrinsics scaled
to `image_size` wide videos) sees the person, the room and the soft contact shadows under the
current frame's feet. The rasterizer is a pinhole: each frame is drawn on a slightly larger
pinhole canvas that covers the lens's field and warped through the camera's Brown-Conrady
distortion (`LensWarp`: for every video pixel, its undistorted ray on the canvas; bilinear), so
the person appears where `camera.project` (with distortion, as prepare-h36m) puts its joints.

Pose files: D3_Positions (32 joints, world mm: the 17 the renderer's `JointRegressor` places, at
their release slots, plus rig-derived extras, `JointRegressor.release32`), and per camera
D3_Positions_mono (camera mm) and D2_Positions (distorted pixels of the video), as the release
has them (`synthetic.release.write_camera_poses`; prepare-h36m reads only D3_Positions).

Deterministic per seed (same CDF bytes, same decoded frames). Not resumable (the stick writer is
not either): a rerun writes the tree again.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from movnect import camera as cam
from movnect.data.anny.appearance import BODY_SLOTS, Look, sample_look
from movnect.data.anny.body import AnnyBody, Phenotype, sample_phenotype, sample_skin, sample_stature
from movnect.data.anny.joints import JointRegressor
from movnect.data.anny.motion import Performance, h36m_region, motion_tracks, perform
from movnect.data.anny.raster import Mesh, Rasterizer, face_incidence, projection, vertex_normals
from movnect.data.anny.render import contact_shadows
from movnect.data.anny.scene import Room, sample_light, sample_room
from movnect.data.h36m_release import ACTIONS, subject_key
from movnect.data.synthetic.release import SynthConfig, open_video_writer, synth_cameras, write_release_tree

ROOM_CLEARANCE = 0.45   # m: no furniture this close to the capture region (as the renderer's rooms)


@dataclass(frozen=True)
class LensWarp:
    """A pinhole canvas for a distorted camera and the per-pixel map from video to canvas.

    canvas: pinhole intrinsics (no distortion) of the render canvas, canvas.width x
    canvas.height px, same focal lengths as the camera; map_x, map_y: (H, W) float32 canvas
    pixel (u, v) of each video pixel's undistorted ray, for cv2.remap.
    """

    canvas: cam.Intrinsics
    map_x: np.ndarray
    map_y: np.ndarray


def lens_warp(intrinsics: cam.Intrinsics, pad: int = 2) -> LensWarp:
    """The LensWarp of `intrinsics` (video width x height px): canvas = the bounding box of
    every video pixel's undistorted position, plus `pad` px (bilinear needs a neighbour).

    Raises ValueError when the distortion cannot be inverted over the image (undistortion off
    by more than 1e-3 px), rather than rendering a wrong warp.
    """
    i = intrinsics
    (fx, fy), (cx, cy) = i.focal, i.center
    u, v = np.meshgrid(np.arange(i.width, dtype=np.float64), np.arange(i.height, dtype=np.float64))
    xd = np.stack([(u - cx) / fx, (v - cy) / fy], axis=-1)
    xu = cam.undistort(xd, i, iterations=40)
    err = float(np.abs((cam.distort(xu, i) - xd) * [fx, fy]).max())
    if err > 1e-3:
        raise ValueError(f"lens_warp: the distortion of this camera cannot be inverted over its image "
                         f"(error {err:.3g} px)")
    pu, pv = xu[..., 0] * fx + cx, xu[..., 1] * fy + cy
    x0, y0 = int(np.floor(pu.min())) - pad, int(np.floor(pv.min())) - pad
    width, height = int(np.ceil(pu.max())) + pad - x0 + 1, int(np.ceil(pv.max())) + pad - y0 + 1
    canvas = cam.Intrinsics((fx, fy), (cx - x0, cy - y0), width=width, height=height)
    return LensWarp(canvas, (pu - x0).astype(np.float32), (pv - y0).astype(np.float32))


@dataclass(frozen=True)
class AnnySubject:
    """What stays fixed for one subject: body, look, cameras (room and light per take: the seat)."""

    name: str
    phenotype: Phenotype
    rest: dict[str, np.ndarray]      # rest mesh: vertices (V, 3) m, heads (B, 3) m
    look: Look
    cameras: list[cam.Camera]


@dataclass(frozen=True)
class AnnyTake:
    """One posed take: per frame the body and the joints the renderer placed.

    joints17: (N, 17, 3) world mm (skeleton.JOINT_NAMES order); joints32: (N, 32, 3) world mm,
    the release's skeleton (the CDF content); performance: vertices and bone heads (world m).
    """

    subject: AnnySubject
    action: str
    take: int
    performance: Performance
    joints17: np.ndarray
    joints32: np.ndarray
    room: Room
    light: dict[str, np.ndarray]


class AnnyReleaseSource:
    """Anny renders as a `synthetic.release.ReleaseSource` (one body model and one GL context).

    body: an AnnyBody to reuse (building one takes seconds); msaa: multisample anti-aliasing
    samples (0, 2 or 4).
    """

    def __init__(self, cfg: SynthConfig, msaa: int = 4, body: AnnyBody | None = None) -> None:
        from movnect.data.anny import require
        from movnect.data.anny.photos import load_photos

        if msaa not in (0, 2, 4):
            raise ValueError(f"msaa must be 0, 2 or 4, got {msaa}")
        require()
        self.cfg = cfg
        self.body = body if body is not None else AnnyBody()
        ref = self.body.rest(Phenotype(0.5, 2.0 / 3.0, 0.5, 0.5, 0.5, 0.5))
        self.regressor = JointRegressor(self.body.bone_labels, self.body.vertex_bone, ref["vertices"])
        self.incidence = face_incidence(self.body.faces, self.body.num_vertices)
        # intrinsics depend on the camera only (not the subject): one warp per camera; the GL
        # target fits all four, so a camera's frames do not depend on which others are written
        self.warps = {c.name: lens_warp(c.intrinsics)
                      for c in synth_cameras("S1", cam.h36m_camera_ids(), cfg.image_size)}
        size = max(max(w.canvas.width, w.canvas.height) for w in self.warps.values())
        self.photo_names, photos = load_photos()
        self.raster = Rasterizer(size, samples=msaa, photos=photos)
        region = h36m_region()
        # the capture region's floor cells (m): the room holds them all, furniture stays clear
        self.region_xy = (region.center - region.half + np.argwhere(region.grid) * region.cell) / 1000.0
        self._subject: AnnySubject | None = None
        self._take: AnnyTake | None = None
        self.render_seconds = 0.0

    def close(self) -> None:
        self.raster.release()

    # -- ReleaseSource -----------------------------------------------------------------------
    def cameras(self, subject: str) -> list[cam.Camera]:
        self._subject = self.subject(subject)
        return self._subject.cameras

    def motion(self, subject: str, action: str, take: int) -> np.ndarray:
        if self._subject is None or self._subject.name != subject:
            self._subject = self.subject(subject)
        self._take = self.take(self._subject, action, take)
        return self._take.joints32

    def write_video(self, path: Path, camera: cam.Camera) -> None:
        if self._take is None:
            raise RuntimeError("write_video before motion(): no current take")
        writer = open_video_writer(path, camera.intrinsics.width, camera.intrinsics.height)
        try:
            for k in range(len(self._take.joints17)):
                writer.write(self.frame(self._take, camera, k))
        finally:
            writer.release()

    # -- the pieces, public for tests --------------------------------------------------------
    def _seed(self, subject: str, *keys: int) -> np.random.Generator:
        return np.random.default_rng([self.cfg.seed, subject_key(subject)[0], *keys])

    def subject(self, subject: str) -> AnnySubject:
        """The subject's body, outfit and cameras (module docstring)."""
        rng = self._seed(subject, 101)
        body = self.body
        pheno = sample_phenotype(rng)
        pheno = body.with_stature(pheno, sample_stature(rng, pheno))
        skin = sample_skin(rng)
        rest = body.rest(pheno)
        look = sample_look(rng, body.bone_labels, body.vertex_bone, rest["vertices"], rest["heads"], skin,
                           pheno.gender, body.vertex_uv)
        return AnnySubject(subject, pheno, rest, look, synth_cameras(subject, self.cfg.cameras, self.cfg.image_size))

    def take(self, subject: AnnySubject, action: str, take: int) -> AnnyTake:
        """Take `take` (0-based) of `action` by `subject`: cfg.frames posed frames at 50 fps."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; choose from {', '.join(ACTIONS)}")
        n = self.cfg.frames
        rng = self._seed(subject.name, 102, ACTIONS.index(action), take)
        tracks = motion_tracks(rng, action, n, h36m_region())
        perf = perform(self.body, subject.phenotype, tracks, np.arange(n))
        joints_m = self.regressor(perf.heads, perf.vertices)
        joints32 = self.regressor.release32(perf.heads, joints_m) * 1000.0
        # the room holds all four of the subject's cameras, whichever are written (cfg.cameras)
        centres = np.array([cam.h36m_camera(subject.name, c).extrinsics.translation
                            for c in cam.h36m_camera_ids()]) / 1000.0
        room = sample_room(self._seed(subject.name, 103), centres, self.region_xy, ROOM_CLEARANCE, perf.seat, None,
                           BODY_SLOTS, self.photo_names)
        light = sample_light(self._seed(subject.name, 104), room.floor_rgb)
        return AnnyTake(subject, action, take, perf, joints_m * 1000.0, joints32, room, light)

    def frame(self, take: AnnyTake, camera: cam.Camera, k: int, person: bool = True) -> np.ndarray:
        """Frame k of `take` through `camera`: (height, width, 3) uint8 BGR, the video's pixels.

        person=False draws the room alone (same light and shadows), for tests.
        """
        t0 = time.perf_counter()
        warp = self.warps[camera.name]
        c = warp.canvas
        perf, look, faces = take.performance, take.subject.look, self.body.faces
        rot_wc = camera.extrinsics.rotation.T
        centre = np.asarray(camera.extrinsics.translation) / 1000.0
        view = np.eye(4)
        view[:3, :3], view[:3, 3] = rot_wc, -rot_wc @ centre
        s = self.raster.size
        proj = projection(*c.focal, *c.center, s, s)   # the canvas in the top-left of the square target
        room = take.room
        meshes = [Mesh(room.positions, room.normals, room.tex, room.material, room.faces)]
        if person:  # nearest first: the depth test then skips shading the room behind the person
            v = perf.vertices[k]
            nrm = vertex_normals(v, faces, self.incidence)
            rest = take.subject.rest["vertices"]
            body = [Mesh(v, nrm, rest, look.vertex_material, faces)]
            shell = faces[(look.shell[faces] > 0).all(axis=1)]
            if len(shell):
                body.append(Mesh(v + nrm * look.shell[:, None], nrm, rest, look.vertex_material, shell))
            meshes = body + meshes
        materials = {key: np.concatenate([look.materials[key], room.materials[key]]) for key in look.materials}
        blobs = contact_shadows(take.joints17[k] / 1000.0, take.light["light_dir"])
        rgb = self.raster.render(meshes, proj, view, materials, take.light, blobs=blobs, first_scene=BODY_SLOTS)
        img = cv2.remap(np.ascontiguousarray(rgb[:c.height, :c.width]), warp.map_x, warp.map_y, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
        self.render_seconds += time.perf_counter() - t0
        return cv2.cvtColor(img, cv2.COLOR_RGB2BGR)


def write_anny_release(out: str | Path, cfg: SynthConfig, msaa: int = 4,
                       progress: Callable[[str, int, int], None] | None = None,
                       body: AnnyBody | None = None) -> dict:
    """Render the release tree of `cfg` with Anny people under `out` (module docstring).

    progress(name, done, total) is called after each video. Returns the summary of
    `synthetic.release.write_release_tree` ({out, videos, frames, seconds, frames_per_s}).
    """
    source = AnnyReleaseSource(cfg, msaa, body)
    try:
        return write_release_tree(out, cfg, source, progress, camera_poses=True)
    finally:
        source.close()
