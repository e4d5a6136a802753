"""Qualisys calibration files (`Calib.qca.txt`, as shipped with Pose2Sim's demos).

Per `<camera serial=...>`: `fov_video` left/top/right/bottom give the image size
(right - left + 1 by bottom - top + 1); `intrinsic` holds focal lengths, principal point and
distortion in 1/64 pixel units (all divided by 64, as Pose2Sim's reader does; the principal
point is then shifted by the fov's left/top); `transform` holds the camera's orientation M
(r11..r33) and centre C (x, y, z) in world millimetres, with Qualisys camera axes, so that
camera coordinates in our axes (x right, y down, z forward) are
X_cam = diag(1, -1, -1) @ M @ (X_world - C); checked by triangulating BlazePose heavy's 2D
over the four views of Pose2Sim's Demo_MultiPerson (bench/real_footage.py reports the
reprojection error).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from movnect.camera import Intrinsics
from movnect.triangulate import View

_FLIP = np.diag([1.0, -1.0, -1.0])


def read_qca(path: str | Path) -> list[View]:
    """The views of a Qualisys calibration file, in file order; ValueError naming the file
    when it is not one."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        raise ValueError(f"{path}: not a readable Qualisys calibration ({e})") from None
    views = []
    for cam in root.iter("camera"):
        try:
            fov = cam.find("fov_video").attrib
            intr = cam.find("intrinsic").attrib
            tr = cam.find("transform").attrib
        except AttributeError:
            raise ValueError(f"{path}: camera {cam.get('serial')} lacks fov_video/intrinsic/transform") from None
        left, top = float(fov["left"]), float(fov["top"])
        width = int(float(fov["right"]) - left + 1)
        height = int(float(fov["bottom"]) - top + 1)
        g = lambda k, intr=intr: float(intr[k]) / 64.0  # noqa: E731
        k = Intrinsics(
            focal=(g("focalLengthU"), g("focalLengthV")),
            center=(g("centerPointU") - left, g("centerPointV") - top),
            radial=(g("radialDistortion1"), g("radialDistortion2"), g("radialDistortion3")),
            tangential=(g("tangentalDistortion1"), g("tangentalDistortion2")),
            width=width, height=height,
        )
        M = np.array([[float(tr[f"r{i}{j}"]) for j in (1, 2, 3)] for i in (1, 2, 3)])
        C = np.array([float(tr["x"]), float(tr["y"]), float(tr["z"])])
        views.append(View(cam.get("serial", f"cam{len(views)}"), k, _FLIP @ M, C))
    if not views:
        raise ValueError(f"{path}: no <camera> in the calibration")
    return views
