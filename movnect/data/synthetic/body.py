"""Forward kinematics of the synthetic person: joint-angle tracks -> 32 release joints.

Joint angles follow synthetic.motion's conventions (radians; flexion moves a hanging limb
forward, abduction moves it away from the body, internal rotation turns its front toward the
body's midline). The release's 32 joints are placed as in Human3.6M: the 17 evaluation joints
where the 17-joint subset expects them, toes, head top, clavicle anchors and the two hand
chains extending their bones.
"""
from __future__ import annotations

import numpy as np

from movnect.data.synthetic.motion import (
    BodyShape, CaptureRegion, Chair, Motion, _apply, _rot, action_style, angle_tracks,
)

# Release joint indices of each limb chain: hip, knee, ankle, toe base, toe tip.
_LEG = {"l": (6, 7, 8, 9, 10), "r": (1, 2, 3, 4, 5)}
# Clavicle anchor, shoulder, elbow, wrist, thumb, thumb tip, hand end, hand tip.
_ARM = {"l": (16, 17, 18, 19, 20, 21, 22, 23), "r": (24, 25, 26, 27, 28, 29, 30, 31)}
_SIGN = {"l": 1.0, "r": -1.0}


def segment_rotations(tracks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """World orientation of each body segment, (N, 3, 3) each, from angle tracks.

    Columns are the segment's (forward, left, up) axes in the world frame; with every angle
    zero all segments share the pelvis frame (standing straight, limbs hanging down).
    Keys: pelvis, lower (lower torso), upper (chest), head, and per side s in 'l', 'r':
    thigh_s, shank_s, foot_s, upper_arm_s, forearm_s, hand_s. Also used to retarget these
    motions onto other rigs (movnect.data.anny.motion).
    """
    rp = _rot(2, tracks["yaw"]) @ _rot(1, tracks["pitch"]) @ _rot(0, tracks["roll"])
    half = {k: tracks[k] / 2 for k in ("spine_flex", "spine_lat", "spine_twist")}
    bend = _rot(1, half["spine_flex"]) @ _rot(0, -half["spine_lat"]) @ _rot(2, half["spine_twist"])
    rl = rp @ bend
    ru = rl @ bend
    rn = ru @ _rot(1, tracks["neck_flex"]) @ _rot(0, -tracks["neck_lat"]) @ _rot(2, tracks["neck_twist"])
    out = {"pelvis": rp, "lower": rl, "upper": ru, "head": rn}
    for side, sign in _SIGN.items():
        rh = rp @ _rot(1, -tracks[f"hip_flex_{side}"]) @ _rot(0, sign * tracks[f"hip_abd_{side}"]) \
            @ _rot(2, -sign * tracks[f"hip_rot_{side}"])
        rk = rh @ _rot(1, tracks[f"knee_{side}"])
        rs = ru @ _rot(1, -tracks[f"sh_flex_{side}"]) @ _rot(0, sign * tracks[f"sh_abd_{side}"]) \
            @ _rot(2, -sign * tracks[f"sh_rot_{side}"])
        rf = rs @ _rot(1, -tracks[f"elbow_{side}"])
        out.update({f"thigh_{side}": rh, f"shank_{side}": rk, f"foot_{side}": rk @ _rot(1, -tracks[f"ankle_{side}"]),
                    f"upper_arm_{side}": rs, f"forearm_{side}": rf, f"hand_{side}": rf @ _rot(1, -tracks[f"wrist_{side}"])})
    return out


def forward_kinematics(tracks: dict[str, np.ndarray], shape: BodyShape) -> Motion:
    """Angle tracks (see synthetic.motion.angle_tracks) -> Motion with feet on the floor.

    Returns joints (N, 32, 3) world mm with the lowest sole point of each frame at z = 0.
    """
    s = shape
    n = tracks["x"].shape[0]
    joints = np.zeros((n, 32, 3))
    pelvis = np.stack([tracks["x"], tracks["y"], np.zeros(n)], -1)
    seg = segment_rotations(tracks)
    rp, rl, ru, rn = seg["pelvis"], seg["lower"], seg["upper"], seg["head"]
    joints[:, 0] = pelvis
    joints[:, 11] = pelvis + _apply(rl, np.array([0.0, 0.0, 0.12 * s.spine_low]))
    joints[:, 12] = pelvis + _apply(rl, np.array([0.0, 0.0, s.spine_low]))
    joints[:, 13] = joints[:, 12] + _apply(ru, np.array([0.0, 0.0, s.spine_up]))
    joints[:, 14] = joints[:, 13] + _apply(rn, np.array([0.25 * s.neck, 0.0, s.neck]))
    joints[:, 15] = joints[:, 14] + _apply(rn, np.array([-0.15 * s.head, 0.0, s.head]))
    for side, sign in _SIGN.items():
        hip, knee, ankle, toe, tip = _LEG[side]
        joints[:, hip] = pelvis + _apply(rp, np.array([0.0, sign * s.hip_half, 0.0]))
        rh, rk, ra = seg[f"thigh_{side}"], seg[f"shank_{side}"], seg[f"foot_{side}"]
        joints[:, knee] = joints[:, hip] + _apply(rh, np.array([0.0, 0.0, -s.thigh]))
        joints[:, ankle] = joints[:, knee] + _apply(rk, np.array([0.0, 0.0, -s.shank]))
        joints[:, toe] = joints[:, ankle] + _apply(ra, np.array([0.72 * s.foot, 0.0, -0.9 * s.ankle_height]))
        joints[:, tip] = joints[:, toe] + _apply(ra, np.array([0.28 * s.foot, 0.0, -0.1 * s.ankle_height]))

        clav, sh, elb, wr, th, th_tip, hand, hand_tip = _ARM[side]
        sw = s.shoulder_half
        joints[:, clav] = joints[:, 13] + _apply(ru, np.array([0.0, sign * 0.25 * sw, -0.05 * sw]))
        joints[:, sh] = joints[:, 13] + _apply(ru, np.array([0.0, sign * sw, -0.12 * sw]))
        rs, rf, rw = seg[f"upper_arm_{side}"], seg[f"forearm_{side}"], seg[f"hand_{side}"]
        joints[:, elb] = joints[:, sh] + _apply(rs, np.array([0.0, 0.0, -s.upper_arm]))
        joints[:, wr] = joints[:, elb] + _apply(rf, np.array([0.0, 0.0, -s.forearm]))
        hd = s.hand
        joints[:, th] = joints[:, wr] + _apply(rw, np.array([0.3 * hd, -sign * 0.15 * hd, -0.35 * hd]))
        joints[:, th_tip] = joints[:, th] + _apply(rw, np.array([0.2 * hd, 0.0, -0.2 * hd]))
        joints[:, hand] = joints[:, wr] + _apply(rw, np.array([0.0, 0.0, -0.6 * hd]))
        joints[:, hand_tip] = joints[:, hand] + _apply(rw, np.array([0.0, 0.0, -0.4 * hd]))
    soles = np.concatenate(
        [joints[:, [4, 5, 9, 10], 2], joints[:, [3, 8], 2] - 0.9 * s.ankle_height], axis=1)
    lift = -soles.min(axis=1)  # puts the lowest sole on the floor
    sit = tracks.get("sit", np.zeros(n))
    if sit.max() > 0:  # seated: the pelvis rests on the seat at a constant height, chosen so
        seated = sit >= sit.max() - 1e-6  # no seated frame's sole goes below the floor (feet may
        # hang above it); in transitions the blend never pushes a sole through the floor either
        lift = np.maximum((1.0 - sit) * lift + sit * float(lift[seated].max()), lift)
    joints[..., 2] += lift[:, None]
    return Motion(joints, rp, ru, rn, None)


def generate_motion(action: str, shape: BodyShape, region: CaptureRegion, frames: int,
                    rng: np.random.Generator) -> Motion:
    """A smooth `frames`-long motion (50 fps) of one person performing a canonical action.

    Seated actions get a chair placed under the person; its seat height comes from the
    seated frames' pelvis height.
    """
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    style = action_style(action)
    tracks = angle_tracks(rng, frames, style, shape, region)
    sit = tracks["sit"]
    if style.sitting == "transitions":  # stand up in front of the chair, not inside it
        step = (1.0 - sit) * 300.0
        tracks["x"] = tracks["x"] + np.cos(tracks["yaw"]) * step
        tracks["y"] = tracks["y"] + np.sin(tracks["yaw"]) * step
    motion = forward_kinematics(tracks, shape)
    if style.sitting == "no":
        return motion
    seated = sit >= sit.max() - 1e-6
    pelvis = motion.joints[seated, 0].mean(axis=0)
    yaw = float(np.median(tracks["yaw"][seated]))
    size = 450.0
    fwd = np.array([np.cos(yaw), np.sin(yaw)])
    center = pelvis[:2] + fwd * (size / 2 - 60.0)
    chair = Chair((float(center[0]), float(center[1])), yaw, float(pelvis[2] - 0.9 * shape.thigh_radius), size)
    return Motion(motion.joints, motion.pelvis_rot, motion.torso_rot, motion.head_rot, chair)
