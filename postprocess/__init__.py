"""Post-processing of per-frame pose predictions, independent of the network.

Inputs are plain numpy arrays in the project's conventions (movnect.skeleton joint order,
camera frame x right / y down / z forward, mm; 2D in image pixels; confidences in [0, 1]):

    one_euro      1-Euro filter (explicit timestamps, speed scaling, NaN hold)
    skeleton_fit  bone-length personalisation and per-frame kinematic fitting (VNect energy)
    kinematics    rotations (matrix / quaternion / axis-angle), the rig, forward kinematics
    tracker       next-frame square crop from the current 2D joints
    bvh, vmc, jsonl   outputs: BVH file, VMC (OSC/UDP) stream, JSON lines

See docs/postprocess.md for the conventions, the energy and its units, and tuning.
"""
from postprocess.bvh import BvhWriter
from postprocess.jsonl import JsonlWriter, frame_record
from postprocess.kinematics import Skeleton, forward_kinematics
from postprocess.one_euro import VNECT_2D, VNECT_3D, OneEuroConfig, OneEuroFilter, vnect_scale_2d, vnect_scale_3d
from postprocess.skeleton_fit import FitConfig, FitResult, SkeletonFitter, estimate_bone_lengths, fit_sequence
from postprocess.tracker import BoxTracker, TrackerConfig, box_from_joints

__all__ = [
    "OneEuroConfig", "OneEuroFilter", "VNECT_2D", "VNECT_3D", "vnect_scale_2d", "vnect_scale_3d",
    "Skeleton", "forward_kinematics", "FitConfig", "FitResult", "SkeletonFitter",
    "estimate_bone_lengths", "fit_sequence", "BoxTracker", "TrackerConfig", "box_from_joints",
    "JsonlWriter", "frame_record", "BvhWriter",
]
# postprocess.vmc (VmcSender) is imported on demand: it opens sockets and needs python-osc.
