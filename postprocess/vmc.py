"""VMC protocol sender (Virtual Motion Capture: OSC over UDP) for avatar apps.

One OSC bundle per frame (python-osc), in this order:
  /VMC/Ext/OK        (int)loaded=1 (int)calibration state=3 (int)calibration mode=0
                     (int)tracking status (1 tracking, 0 when the fitter held the pose)
  /VMC/Ext/T         (float)time in seconds
  /VMC/Ext/Root/Pos  (string)"root" px py pz qx qy qz qw
  /VMC/Ext/Bone/Pos  (string)bone px py pz qx qy qz qw    -- one per HumanBodyBones name

Conventions (pinned by tests/postprocess/test_vmc.py):
  * Bone names are Unity HumanBodyBones; joint j of movnect.skeleton drives `UNITY_BONES[j]`
    (its rotation turns the bone that starts at that joint). The H36M head-top joint maps to
    Head and carries identity rotation, as do the feet and hands (no information).
  * Rotations are LOCAL (relative to the parent bone) and relative to the T-pose, as VMC
    expects for normalised (VRM) avatars whose T-pose has identity rotations.
  * Frame: Unity is left-handed, Y up, Z forward, X right, and an avatar faces +Z. The person
    faces the camera (towards -z in camera coordinates), so the map from camera coordinates
    (x right, y down, z forward) is the point reflection U = -I: up (-y) -> +Y, the person's
    forward (-z) -> +Z, the person's right (-x) -> +X. For a rotation matrix R,
    U R U^T = R, so quaternions keep their components; they are sent as (x, y, z, w).
  * Positions in metres. Root/Pos carries the root transform: the origin, identity rotation
    (or 180 degrees about Y with `turn_around`). Hips/Bone/Pos carries the pelvis: its
    displacement since the first frame sent (`root_motion`) plus (0, leg length, 0), so the
    avatar starts standing on its origin. Other bones carry their rest offsets.
  * `mirror`: reflect X (x -> -x, quaternion (x, y, z, w) -> (x, -y, -z, w)) and swap left and
    right bones: the avatar moves like a mirror image of the user. `turn_around`: the avatar
    turns its back to the viewer.

Sending never blocks: the socket is non-blocking and OSError (no receiver: ICMP port
unreachable, full buffer) is caught and counted in `dropped`.
"""
from __future__ import annotations

import numpy as np
from pythonosc import osc_bundle_builder, osc_message_builder, udp_client
from pythonosc.osc_bundle import OscBundle

from movnect.rotations import matrix_to_quaternion
from movnect.skeleton import NUM_JOINTS
from postprocess.kinematics import Skeleton

__all__ = ["UNITY_BONES", "VmcSender", "camera_to_unity_position", "camera_to_unity_quaternion"]

UNITY_BONES: tuple[str, ...] = (
    "Hips", "RightUpperLeg", "RightLowerLeg", "RightFoot", "LeftUpperLeg", "LeftLowerLeg", "LeftFoot",
    "Spine", "Chest", "Neck", "Head", "LeftUpperArm", "LeftLowerArm", "LeftHand",
    "RightUpperArm", "RightLowerArm", "RightHand",
)
_SWAP = {n: (n.replace("Left", "Right") if n.startswith("Left") else n.replace("Right", "Left"))
         for n in UNITY_BONES}


def camera_to_unity_position(p_mm: np.ndarray, mirror: bool = False) -> np.ndarray:
    """(..., 3) camera-frame mm -> (..., 3) Unity metres (U = -I, then X reflected if mirror)."""
    p = -np.asarray(p_mm, dtype=np.float64) / 1000.0
    if mirror:
        p = p * np.array([-1.0, 1.0, 1.0])
    return p


def camera_to_unity_quaternion(r: np.ndarray, mirror: bool = False) -> np.ndarray:
    """(..., 3, 3) camera-frame rotations -> (..., 4) Unity quaternions (x, y, z, w)."""
    q = matrix_to_quaternion(r)                       # (w, x, y, z), unchanged by U = -I
    out = np.concatenate([q[..., 1:], q[..., :1]], axis=-1)
    if mirror:
        out = out * np.array([1.0, -1.0, -1.0, 1.0])
    return out


class VmcSender:
    """Send fitted frames to a VMC receiver (VSeeFace, Warudo, VNyan, ...).

    Args:
        skeleton: the fitted rig (bone offsets, leg length for the hips height).
        host, port: receiver address (39539 is the usual VMC port).
        mirror, turn_around, root_motion: see the module docstring.
    """

    def __init__(self, skeleton: Skeleton, host: str = "127.0.0.1", port: int = 39539,
                 mirror: bool = False, turn_around: bool = False, root_motion: bool = True) -> None:
        if not 0 < int(port) < 65536:
            raise ValueError(f"VmcSender: port must be in 1..65535, got {port}")
        self.skeleton, self.mirror, self.turn_around, self.root_motion = skeleton, mirror, turn_around, root_motion
        self.sent = 0
        self.dropped = 0
        self._client = udp_client.UDPClient(host, int(port))
        self._origin: np.ndarray | None = None
        lengths = skeleton.bone_lengths
        self._leg_m = (lengths[1] + lengths[2] + lengths[4] + lengths[5]) / 2.0 / 1000.0
        self._offsets = camera_to_unity_position(skeleton.offsets, mirror)   # (17, 3) m

    def build_bundle(self, root_position: np.ndarray, local_rotations: np.ndarray, t: float,
                     tracking: bool = True) -> OscBundle:
        """The OSC bundle for one frame.

        Args:
            root_position: (3,) pelvis position, camera frame, mm.
            local_rotations: (17, 3, 3) local rotations (FitResult.local_rotations).
            t: time in seconds (sent as /VMC/Ext/T).
            tracking: False marks the frame as not tracked (/VMC/Ext/OK tracking status 0).
        """
        pos = np.asarray(root_position, dtype=np.float64)
        rot = np.asarray(local_rotations, dtype=np.float64)
        if pos.shape != (3,) or rot.shape != (NUM_JOINTS, 3, 3):
            raise ValueError(f"VmcSender: expected (3,) and ({NUM_JOINTS}, 3, 3), got {pos.shape} and {rot.shape}")
        if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(rot))):
            raise ValueError("VmcSender: non-finite pose")
        hips = camera_to_unity_position(pos, self.mirror)
        if self._origin is None:
            self._origin = hips.copy()
        hips = (hips - self._origin) if self.root_motion else np.zeros(3)
        hips = hips + np.array([0.0, self._leg_m, 0.0])
        quats = camera_to_unity_quaternion(rot, self.mirror)
        root_q = (0.0, 1.0, 0.0, 0.0) if self.turn_around else (0.0, 0.0, 0.0, 1.0)

        bundle = osc_bundle_builder.OscBundleBuilder(osc_bundle_builder.IMMEDIATELY)
        bundle.add_content(_message("/VMC/Ext/OK", [(1, "i"), (3, "i"), (0, "i"), (int(tracking), "i")]))
        bundle.add_content(_message("/VMC/Ext/T", [(float(t), "f")]))
        bundle.add_content(_message("/VMC/Ext/Root/Pos", [("root", "s")] + [(v, "f") for v in (0.0, 0.0, 0.0, *root_q)]))
        for j, name in enumerate(UNITY_BONES):
            p = hips if j == 0 else self._offsets[j]
            bone = _SWAP[name] if self.mirror else name
            values = [float(v) for v in (*p, *quats[j])]
            bundle.add_content(_message("/VMC/Ext/Bone/Pos", [(bone, "s")] + [(v, "f") for v in values]))
        return bundle.build()

    def send(self, result, t: float | None = None) -> bool:
        """Send a FitResult; returns False (and counts a drop) if the OS refused the datagram."""
        bundle = self.build_bundle(result.root_position, result.local_rotations,
                                   result.timestamp if t is None else t, tracking=not result.held)
        return self.send_bundle(bundle)

    def send_bundle(self, bundle: OscBundle) -> bool:
        try:
            self._client.send(bundle)
        except OSError:
            self.dropped += 1
            return False
        self.sent += 1
        return True

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "VmcSender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _message(address: str, args: list[tuple[object, str]]):
    msg = osc_message_builder.OscMessageBuilder(address=address)
    for value, kind in args:
        msg.add_arg(value, kind)
    return msg.build()
