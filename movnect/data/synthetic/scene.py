"""Scene assembly: a sampled person in a sampled room seen by one camera, drawn frame by frame.

The pieces every synthetic writer puts together the same way (the release, the COCO-format set,
the demo's sample clip, the export's calibration crops): a person (body proportions, then
clothes, from one generator), the capture space of a Human3.6M subject's four cameras (where a
person may stand), the empty room behind the person through a camera, and a frame = a copy of
that background with the person drawn on top. The order in which each helper draws from the
generator is part of its contract: a writer that calls them in the same order as before renders
the same pixels for the same seed (tests/movnect/data/test_synthetic.py pins this).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from movnect import camera as cam
from movnect.data.synthetic.motion import BodyShape, CaptureRegion, Motion, sample_shape
from movnect.data.synthetic.render import Appearance, render_person, sample_appearance
from movnect.data.synthetic.room import render_background, sample_scene


@dataclass(frozen=True)
class Actor:
    """One synthetic person: body proportions and clothes."""

    shape: BodyShape
    look: Appearance


def sample_actor(rng: np.random.Generator) -> Actor:
    """Body proportions, then clothes, drawn from `rng` in that order."""
    shape = sample_shape(rng)
    return Actor(shape, sample_appearance(rng))


def h36m_region(subject: str) -> CaptureRegion:
    """Where a standing person is inside all four of `subject`'s real Human3.6M camera views."""
    return CaptureRegion([cam.h36m_camera(subject, c) for c in cam.h36m_camera_ids()])


def room_background(rng: np.random.Generator, region: CaptureRegion, camera: cam.Camera) -> np.ndarray:
    """A random room (sample_scene, drawn from `rng`) around the region's centre, through `camera`:
    (H, W, 3) uint8 BGR at the camera's resolution."""
    return render_background(sample_scene(rng, tuple(region.center)), camera)


def render_frame(background: np.ndarray, actor: Actor, motion: Motion, frame: int, camera: cam.Camera) -> np.ndarray:
    """Frame `frame` of `motion`: a copy of `background` (H, W, 3) uint8 BGR with the actor drawn
    on it through `camera`; the background is left untouched."""
    if background.ndim != 3 or background.shape[2] != 3:
        raise ValueError(f"render_frame: expected an (H, W, 3) background, got shape {background.shape}")
    img = background.copy()
    render_person(img, motion, frame, actor.shape, actor.look, camera)
    return img
