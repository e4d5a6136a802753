"""BVH export of fitted poses, written incrementally (a stream can stop at any frame).

File conventions (pinned by tests/postprocess/test_bvh.py, checked with independent readers):
  * Hierarchy: the 17-joint rig (postprocess.kinematics) with the personalised bone lengths;
    joints in movnect.skeleton order, which is also the file's depth-first order. Names:
    Hips, RightUpLeg, RightLeg, RightFoot, LeftUpLeg, LeftLeg, LeftFoot, Spine, Thorax, Neck,
    Head, LeftArm, LeftForeArm, LeftHand, RightArm, RightForeArm, RightHand. Leaves (feet,
    hands, head top) are JOINTs with zero rotation (17 points carry no information about
    them) and an End Site that only gives viewers a bone tail (feet point forward, hands
    continue the forearm, the head tip points up).
  * Axes: Y up, right-handed. From the camera frame (x right, y down, z forward):
    (X, Y, Z) = (x, -y, -z), a 180-degree turn about x, so a person facing the camera faces
    +Z, their left is +X and their head is +Y. Rotations: R_bvh = C R C, C = diag(1, -1, -1).
  * Units: centimetres by default (`unit="mm"` writes millimetres); angles in degrees.
  * Channels: root "Xposition Yposition Zposition Zrotation Xrotation Yrotation", joints
    "Zrotation Xrotation Yrotation": local rotation R = Rz(z) @ Rx(x) @ Ry(y) acting on the
    child offsets (column vectors), the usual BVH reading (Blender, pybvh, bvhio).
  * The root position channel is the pelvis position in the camera-aligned frame (camera at
    the origin); the root OFFSET is 0.

Crash safety: the header is written at open with a fixed-width "Frames:" field; every
`write_frame` appends one line, rewrites the count in place and flushes, so the file on disk
is a valid BVH after every frame (optionally fsync'ed). A crash in the middle of a line leaves
at most one torn line: `repair_bvh` drops it and fixes the count.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import numpy as np

from movnect import atomic
from movnect.skeleton import NUM_JOINTS, PARENTS
from postprocess.kinematics import REST_DIRECTIONS, Skeleton

__all__ = ["BVH_NAMES", "BvhWriter", "matrix_to_euler_zxy", "euler_zxy_to_matrix", "repair_bvh",
           "CAMERA_TO_BVH"]

BVH_NAMES: tuple[str, ...] = (
    "Hips", "RightUpLeg", "RightLeg", "RightFoot", "LeftUpLeg", "LeftLeg", "LeftFoot",
    "Spine", "Thorax", "Neck", "Head", "LeftArm", "LeftForeArm", "LeftHand",
    "RightArm", "RightForeArm", "RightHand",
)
CAMERA_TO_BVH = np.diag([1.0, -1.0, -1.0])
_UNITS = {"cm": 0.1, "mm": 1.0}
_COUNT_WIDTH = 12


def euler_zxy_to_matrix(angles: np.ndarray) -> np.ndarray:
    """(..., 3) angles (z, x, y) in radians -> (..., 3, 3) R = Rz(z) @ Rx(x) @ Ry(y)."""
    a = np.asarray(angles, dtype=np.float64)
    if a.ndim < 1 or a.shape[-1] != 3:
        raise ValueError(f"euler_zxy_to_matrix: expected (..., 3) angles, got shape {a.shape}")
    cz, sz = np.cos(a[..., 0]), np.sin(a[..., 0])
    cx, sx = np.cos(a[..., 1]), np.sin(a[..., 1])
    cy, sy = np.cos(a[..., 2]), np.sin(a[..., 2])
    return np.stack([
        np.stack([cz * cy - sz * sx * sy, -sz * cx, cz * sy + sz * sx * cy], -1),
        np.stack([sz * cy + cz * sx * sy, cz * cx, sz * sy - cz * sx * cy], -1),
        np.stack([-cx * sy, sx, cx * cy], -1),
    ], axis=-2)


def matrix_to_euler_zxy(r: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations -> (..., 3) angles (z, x, y), radians, x in [-pi/2, pi/2].

    Inverse of `euler_zxy_to_matrix`; at gimbal lock (x = +-pi/2) y is set to 0.
    """
    r = np.asarray(r, dtype=np.float64)
    if r.ndim < 2 or r.shape[-2:] != (3, 3):
        raise ValueError(f"matrix_to_euler_zxy: expected (..., 3, 3), got shape {r.shape}")
    x = np.arcsin(np.clip(r[..., 2, 1], -1.0, 1.0))
    lock = np.abs(r[..., 2, 1]) > 1.0 - 1e-12
    z = np.where(lock, np.arctan2(r[..., 1, 0], r[..., 0, 0]), np.arctan2(-r[..., 0, 1], r[..., 1, 1]))
    y = np.where(lock, 0.0, np.arctan2(-r[..., 2, 0], r[..., 2, 2]))
    return np.stack([z, x, y], axis=-1)


def _end_site(j: int, skeleton: Skeleton) -> np.ndarray:
    """Camera-frame offset of a leaf's End Site (a bone tail for viewers), mm."""
    length = skeleton.bone_lengths[j - 1]
    if j in (3, 6):
        return np.array([0.0, 0.0, -0.35 * skeleton.bone_lengths[j - 2]])   # feet: forward
    return REST_DIRECTIONS[j] * (0.35 if j in (13, 16) else 0.5) * length


class BvhWriter:
    """Stream fitted frames into a BVH file (see the module docstring for the format).

    Args:
        path: output file (created or overwritten).
        skeleton: the personalised rig the poses were fitted with.
        frame_time: seconds per frame (BVH has a constant rate; frames are written as given).
        unit: "cm" (default) or "mm".
        fsync: also fsync after each frame (slower; survives power loss, not only crashes).
    """

    def __init__(self, path: str | Path, skeleton: Skeleton, frame_time: float, unit: str = "cm",
                 fsync: bool = False) -> None:
        if not (np.isfinite(frame_time) and frame_time > 0):
            raise ValueError(f"BvhWriter: frame_time must be finite and > 0, got {frame_time}")
        if unit not in _UNITS:
            raise ValueError(f"BvhWriter: unit must be one of {sorted(_UNITS)}, got {unit!r}")
        self.path, self.skeleton, self.unit, self.fsync = Path(path), skeleton, unit, fsync
        self.frames = 0
        self._scale = _UNITS[unit]
        self._file: BinaryIO | None = open(self.path, "wb")
        header = self._hierarchy() + "MOTION\nFrames: "
        self._count_at = len(header.encode("ascii"))
        header += " " * _COUNT_WIDTH + f"\nFrame Time: {frame_time:.8f}\n"
        self._file.write(header.encode("ascii"))
        self._write_count()

    def _hierarchy(self) -> str:
        off = self.skeleton.offsets @ CAMERA_TO_BVH * self._scale
        children = {j: [c for c in range(NUM_JOINTS) if PARENTS[c] == j] for j in range(NUM_JOINTS)}
        lines = ["HIERARCHY"]

        def emit(j: int, depth: int) -> None:
            pad = "  " * depth
            kind = "ROOT" if j == 0 else "JOINT"
            lines.append(f"{pad}{kind} {BVH_NAMES[j]}")
            lines.append(f"{pad}{{")
            lines.append(f"{pad}  OFFSET {off[j, 0]:.6f} {off[j, 1]:.6f} {off[j, 2]:.6f}")
            channels = ("6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" if j == 0
                        else "3 Zrotation Xrotation Yrotation")
            lines.append(f"{pad}  CHANNELS {channels}")
            for c in children[j]:
                emit(c, depth + 1)
            if not children[j]:
                e = _end_site(j, self.skeleton) @ CAMERA_TO_BVH * self._scale
                lines.extend([f"{pad}  End Site", f"{pad}  {{",
                              f"{pad}    OFFSET {e[0]:.6f} {e[1]:.6f} {e[2]:.6f}", f"{pad}  }}"])
            lines.append(f"{pad}}}")

        emit(0, 0)
        return "\n".join(lines) + "\n"

    def _write_count(self) -> None:
        assert self._file is not None
        self._file.seek(self._count_at)
        self._file.write(str(self.frames).ljust(_COUNT_WIDTH).encode("ascii"))
        self._file.seek(0, os.SEEK_END)
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())

    def write_frame(self, root_position: np.ndarray, local_rotations: np.ndarray) -> None:
        """Append one frame.

        Args:
            root_position: (3,) pelvis position, camera frame, mm.
            local_rotations: (17, 3, 3) local joint rotations (FitResult.local_rotations).
        """
        if self._file is None:
            raise ValueError(f"BvhWriter: {self.path} is closed")
        pos = np.asarray(root_position, dtype=np.float64)
        rot = np.asarray(local_rotations, dtype=np.float64)
        if pos.shape != (3,) or rot.shape != (NUM_JOINTS, 3, 3):
            raise ValueError(f"BvhWriter.write_frame: expected (3,) and ({NUM_JOINTS}, 3, 3), "
                             f"got {pos.shape} and {rot.shape}")
        if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(rot))):
            raise ValueError("BvhWriter.write_frame: non-finite values (BVH cannot store NaN)")
        euler = np.degrees(matrix_to_euler_zxy(CAMERA_TO_BVH @ rot @ CAMERA_TO_BVH))
        values = np.concatenate([CAMERA_TO_BVH @ pos * self._scale, euler.ravel()])
        self._file.write((" ".join(f"{v:.6f}" for v in values) + "\n").encode("ascii"))
        self.frames += 1
        self._write_count()

    def write_result(self, result) -> None:
        """Append a FitResult (postprocess.skeleton_fit)."""
        self.write_frame(result.root_position, result.local_rotations)

    def close(self) -> None:
        if self._file is not None:
            self._write_count()
            self._file.close()
            self._file = None

    def __enter__(self) -> "BvhWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def repair_bvh(path: str | Path) -> int:
    """Make a BVH cut off mid-write valid again: drop a torn last line, fix "Frames:".

    Returns the number of complete frames kept. Only for files whose count field has room
    (this module's files); ValueError if the file is not a BVH with a MOTION section.
    """
    path = Path(path)
    data = path.read_bytes()
    head, sep, motion = data.partition(b"MOTION\n")
    if not sep:
        raise ValueError(f"repair_bvh: no MOTION section in {path}")
    lines = motion.split(b"\n")
    if len(lines) < 2 or not lines[0].startswith(b"Frames:") or not lines[1].startswith(b"Frame Time:"):
        raise ValueError(f"repair_bvh: malformed MOTION header in {path}")
    n_values = 6 + 3 * (NUM_JOINTS - 1)
    rows = [ln for ln in lines[2:] if ln.strip()]
    while rows and len(rows[-1].split()) != n_values:
        rows.pop()
    field_width = len(lines[0]) - len(b"Frames: ")
    count = str(len(rows)).encode().ljust(max(field_width, 1))
    body = b"\n".join([b"Frames: " + count, lines[1]] + rows) + b"\n"
    atomic.write_bytes(path, head + sep + body)
    return len(rows)
