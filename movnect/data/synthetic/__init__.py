"""Synthetic data: a fake Human3.6M release and a COCO-format 2D set, drawn without any real data.

  motion.py    procedural motion of the release's 32-joint skeleton (body proportions, actions)
  body.py      joint-angle tracks -> Motion (forward kinematics, feet on the floor)
  render.py    the person (and chair) drawn into a camera image
  room.py      the textured room behind the person, ray-cast through the camera's lens
  scene.py     scene assembly shared by every writer: person, capture space, background, frame
  release.py   `movnect synth`: the release layout (CDF poses + MP4 videos)
  coco.py      `movnect synth --coco N`: a COCO-format keypoint set

The release's API is importable from the package (`from movnect.data.synthetic import
SynthConfig, write_release`), as it was when the release was the module movnect.data.synthetic.
"""
from movnect.data.synthetic.release import (
    SynthConfig, file_action_name, scaled_intrinsics, synth_cameras, write_pose_cdf, write_release,
)

__all__ = ["SynthConfig", "file_action_name", "scaled_intrinsics", "synth_cameras", "write_pose_cdf", "write_release"]
