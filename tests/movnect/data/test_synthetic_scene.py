"""Scene assembly (movnect.data.synthetic.scene): the helpers equal the hand assembly they replace,
draw from the generator in the documented order, and leave the background untouched."""
import numpy as np
import pytest

from movnect import camera as cam
from movnect.data.synthetic.body import generate_motion
from movnect.data.synthetic.motion import CaptureRegion, sample_shape
from movnect.data.synthetic.release import synth_cameras
from movnect.data.synthetic.render import render_person, sample_appearance
from movnect.data.synthetic.room import render_background, sample_scene
from movnect.data.synthetic.scene import Actor, h36m_region, render_frame, room_background, sample_actor


def test_helpers_render_the_same_pixels_as_the_hand_assembly():
    camera = synth_cameras("S1", ("54138969",), 96)[0]
    # the hand assembly every writer used to spell out
    rng = np.random.default_rng(11)
    shape, look = sample_shape(rng), sample_appearance(rng)
    region = CaptureRegion([cam.h36m_camera("S1", c) for c in cam.h36m_camera_ids()])
    background = render_background(sample_scene(rng, tuple(region.center)), camera)
    motion = generate_motion("Walking", shape, region, 4, rng)
    expected = background.copy()
    render_person(expected, motion, 3, shape, look, camera)
    # the helpers, same seed, same order
    rng = np.random.default_rng(11)
    actor = sample_actor(rng)
    region2 = h36m_region("S1")
    background2 = room_background(rng, region2, camera)
    motion2 = generate_motion("Walking", actor.shape, region2, 4, rng)
    assert actor == Actor(shape, look)
    np.testing.assert_array_equal(region2.center, region.center)
    np.testing.assert_array_equal(background2, background)
    np.testing.assert_array_equal(motion2.joints, motion.joints)
    before = background2.copy()
    frame = render_frame(background2, actor, motion2, 3, camera)
    np.testing.assert_array_equal(frame, expected)
    np.testing.assert_array_equal(background2, before)          # drawn on a copy
    assert (frame != background2).any()                         # the person is there


def test_render_frame_names_a_bad_background_shape():
    camera = synth_cameras("S1", ("54138969",), 64)[0]
    rng = np.random.default_rng(0)
    actor = sample_actor(rng)
    motion = generate_motion("Walking", actor.shape, h36m_region("S1"), 2, rng)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) background, got shape \(48, 64\)"):
        render_frame(np.zeros((48, 64), np.uint8), actor, motion, 0, camera)
