"""Release discovery, action-name mapping, camera override and damaged pose/video files."""
import json

import numpy as np
import pytest

from movnect import camera as cam
from movnect.data import h36m_release as rel
from movnect.data.synthetic import write_pose_cdf


def make_tree(root, subject, stems, cameras=("54138969",), videos=True):
    """A release skeleton with empty files (enough for discover)."""
    poses = root / subject / "MyPoseFeatures" / "D3_Positions"
    vids = root / subject / "Videos"
    poses.mkdir(parents=True, exist_ok=True)
    vids.mkdir(parents=True, exist_ok=True)
    for stem in stems:
        (poses / f"{stem}.cdf").write_bytes(b"")
        for c in cameras if videos else ():
            (vids / f"{stem}.{c}.mp4").write_bytes(b"")


@pytest.mark.parametrize("stem, action", [
    ("TakingPhoto", "Photo"), ("TakingPhoto 1", "Photo"), ("Photo 2", "Photo"), ("WalkingDog", "WalkDog"),
    ("WalkingDog 1", "WalkDog"), ("WalkDog", "WalkDog"), ("Directions 1", "Directions"), ("Directions", "Directions"),
    ("SittingDown 2", "SittingDown"), ("WalkTogether", "WalkTogether"), ("Walking 1", "Walking"),
    ("Sitting 1", "Sitting"),
])
def test_action_name_variants_map_to_the_15_actions(stem, action):
    assert rel.canonical_action(stem) == action


def test_unknown_action_names_are_none():
    assert rel.canonical_action("_ALL") is None and rel.canonical_action("Dancing 1") is None
    assert len(rel.ACTIONS) == 15


# Known pairs of metadata.xml's <mapping> (subject, action, subaction) -> release file name.
KNOWN_PAIRS = [
    ("S1", "Directions", 1, "Directions 1"), ("S1", "Directions", 2, "Directions"),
    ("S11", "Phoning", 1, "Phoning 3"), ("S11", "Phoning", 2, "Phoning 2"),
    ("S1", "Eating", 1, "Eating 2"), ("S1", "Photo", 1, "TakingPhoto 1"), ("S1", "WalkDog", 2, "WalkingDog"),
    ("S5", "Discussion", 1, "Discussion 2"), ("S5", "Discussion", 2, "Discussion 3"),
    ("S5", "Directions", 2, "Directions 2"), ("S6", "Waiting", 1, "Waiting 3"), ("S6", "Posing", 1, "Posing 2"),
    ("S7", "Photo", 1, "Photo"), ("S7", "Photo", 2, "Photo 1"), ("S8", "WalkTogether", 2, "WalkTogether 2"),
    ("S9", "SittingDown", 1, "SittingDown"), ("S9", "SittingDown", 2, "SittingDown 1"),
    ("S9", "Greeting", 2, "Greeting"), ("S9", "Waiting", 1, "Waiting 1"), ("S11", "Smoking", 1, "Smoking 2"),
    ("S11", "Greeting", 1, "Greeting 2"), ("S11", "Directions", 2, "Directions"),
]


@pytest.mark.parametrize("subject, action, sub, stem", KNOWN_PAIRS)
def test_subaction_table_has_the_official_names(subject, action, sub, stem):
    assert rel.subaction_table()[subject][action][sub - 1] == stem
    assert rel.official_subaction(subject, stem) == sub
    assert rel.canonical_action(stem) == action


def test_subaction_table_covers_every_public_subject_and_action_once():
    table = rel.subaction_table()
    assert sorted(table, key=rel.subject_key) == ["S1", "S5", "S6", "S7", "S8", "S9", "S11"]
    for actions in table.values():
        assert tuple(actions) == rel.ACTIONS
        for action, names in actions.items():
            assert len(names) == 2 and len(set(names)) == 2
            assert all(rel.canonical_action(n) == action for n in names)
    # the rank of the sorted names (the old numbering) disagrees for 85 of the 105 pairs
    assert sum(sorted(v) != list(v) for acts in table.values() for v in acts.values()) == 85


def test_discover_numbers_takes_officially_maps_variants_and_sorts_subjects(tmp_path):
    make_tree(tmp_path, "S11", ["Directions 1", "Directions"], cameras=("54138969", "55011271"))
    make_tree(tmp_path, "S9", ["Photo 1", "Photo", "_ALL 1"], cameras=("54138969", "55011271"))
    seqs, problems = rel.discover(tmp_path)
    names = [s.name for s in seqs]
    assert names[:2] == ["S9/Photo.54138969", "S9/Photo.55011271"]  # S9 before S11
    assert len(seqs) == 8
    photo = {s.stem: s for s in seqs if s.subject == "S9"}
    assert photo["Photo 1"].action == "Photo" and photo["Photo 1"].subaction == 1  # metadata.xml, not name order
    assert photo["Photo"].subaction == 2
    assert problems == ["S9/_ALL 1.cdf: not one of the 15 actions, ignored"]
    only, _ = rel.discover(tmp_path, subjects=("S11",), cameras=("55011271",))
    assert [(s.name, s.subaction) for s in only] == [("S11/Directions.55011271", 2), ("S11/Directions 1.55011271", 1)]


def test_names_outside_the_table_are_numbered_after_the_official_takes_with_a_note(tmp_path):
    make_tree(tmp_path, "S1", ["Walking 1", "Walking 7", "Walking"])
    seqs, problems = rel.discover(tmp_path)
    assert {s.stem: s.subaction for s in seqs} == {"Walking 1": 1, "Walking": 2, "Walking 7": 3}
    assert problems == ["S1/Walking 7: not in the official subaction table (metadata.xml), numbered 3"]


def test_discover_reports_missing_videos_and_uses_present_cameras(tmp_path):
    make_tree(tmp_path, "S1", ["Walking", "Eating"], cameras=("58860488",))
    (tmp_path / "S1" / "Videos" / "Eating.58860488.mp4").unlink()
    seqs, problems = rel.discover(tmp_path)
    assert [s.name for s in seqs] == ["S1/Walking.58860488"]  # only the camera that has videos
    assert len(problems) == 1 and "S1/Eating.58860488: video missing" in problems[0]


def test_discover_errors_are_one_line_and_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="release root not found: .*nowhere"):
        rel.discover(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="is this the Human3.6M release root"):
        rel.discover(tmp_path)
    make_tree(tmp_path, "S1", ["Walking"])
    with pytest.raises(ValueError, match=r"subject\(s\) S5 not in release .* \(has S1\)"):
        rel.discover(tmp_path, subjects=("S1", "S5"))


def test_read_poses_round_trip_and_damaged_files(tmp_path):
    poses = np.random.default_rng(0).normal(0, 500, (7, 32, 3)).astype(np.float32)
    path = tmp_path / "Walking.cdf"
    write_pose_cdf(path, poses)
    np.testing.assert_array_equal(rel.read_poses(path), poses.astype(np.float64))
    data = path.read_bytes()
    trunc = tmp_path / "trunc.cdf"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(rel.SequenceError, match="truncated or unreadable CDF file .*trunc.cdf") as exc:
        rel.read_poses(trunc)
    assert "\n" not in str(exc.value)
    with pytest.raises(rel.SequenceError, match="unreadable CDF file .*missing.cdf"):
        rel.read_poses(tmp_path / "missing.cdf")
    nan = tmp_path / "nan.cdf"
    bad = poses.copy()
    bad[3, 4, 1] = np.nan
    write_pose_cdf(nan, bad)
    with pytest.raises(rel.SequenceError, match="NaN"):
        rel.read_poses(nan)


def test_open_video_refuses_garbage(tmp_path):
    junk = tmp_path / "Walking.54138969.mp4"
    junk.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(rel.SequenceError, match="unreadable video .*Walking.54138969.mp4"):
        rel.open_video(junk)


def test_release_camera_uses_package_data_unless_overridden(tmp_path):
    real = cam.h36m_camera("S9", "60457274")
    assert rel.release_camera(tmp_path, "S9", "60457274") == real
    small = cam.Camera(real.name, cam.Intrinsics((500.0, 501.0), (250.0, 249.0), real.intrinsics.radial,
                                                 real.intrinsics.tangential, 500, 502), real.extrinsics)
    override = tmp_path / "over"
    override.mkdir()
    (override / rel.CAMERA_OVERRIDE).write_text(json.dumps(rel.camera_facts({"S9": {"60457274": small}})))
    assert rel.release_camera(override, "S9", "60457274") == small
    with pytest.raises(ValueError, match="has no camera 54138969 for subject S9"):
        rel.release_camera(override, "S9", "54138969")
