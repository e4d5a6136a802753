"""Release -> HDF5 ingestion: rows, geometry against independent references, resume, damaged inputs, CLI."""
import json
import shutil

import cdflib
import cv2
import h5py
import numpy as np
import pytest

from movnect import camera as cam
from movnect import cli, skeleton
from movnect.data import h36m
from movnect.data.h36m import PrepareOptions, open_h36m, person_box, prepare_h36m
from movnect.data.synthetic import SynthConfig, write_release
from tests.movnect.data.fixtures import build_quirks

SEQUENCES = 8  # tiny release: 2 subjects x 2 actions x 1 take x 2 cameras, 20 frames each


def _names(ds):
    return [x.decode() if isinstance(x, bytes) else str(x) for x in ds[...]]


def _intrinsics(row_intr, size):
    f = [float(v) for v in row_intr]
    return cam.Intrinsics((f[0], f[1]), (f[2], f[3]), (f[4], f[5], f[6]), (f[7], f[8]), int(size[0]), int(size[1]))


def test_row_counts_frames_and_name_tables(tiny_h5):
    with open_h36m(tiny_h5) as f:
        assert int(f.attrs["rows"]) == 32 == len(f["images"]) == len(f["joints3d"])
        assert _names(f["names/subjects"]) == ["S1", "S9"]
        assert _names(f["names/cameras"]) == ["54138969", "55011271"]
        assert _names(f["names/sequences"]) == ["S1/Directions 1", "S1/Walking 1", "S9/Directions 1", "S9/Walking 1"]
        assert set(f["subaction"][...].tolist()) == {1}  # take 0 of the generator is subaction 1
        assert len(_names(f["names/actions"])) == 15
        seq, cams, frame = f["sequence"][...], f["camera"][...], f["frame"][...]
        for s in range(4):
            for c in range(2):
                np.testing.assert_array_equal(frame[(seq == s) & (cams == c)], [0, 5, 10, 15])
        assert json.loads(f.attrs["skipped"]) == [] and json.loads(f.attrs["warnings"]) == []
        assert f["images"].dtype.metadata["vlen"] == np.uint8


def test_stored_2d_is_the_distorted_projection_of_stored_3d(tiny_h5):
    with open_h36m(tiny_h5) as f:
        j3, j2 = f["joints3d"][...].astype(np.float64), f["joints2d"][...].astype(np.float64)
        intr, size = f["intrinsics"][...], f["image_size"][...]
    for r in range(len(j3)):
        i = _intrinsics(intr[r], size[r])
        np.testing.assert_allclose(cam.project(j3[r], i), j2[r], atol=2e-3)
        # distortion matters at this scale: a pinhole projection is measurably different
        assert np.abs(cam.project(j3[r], i, distortion=False) - j2[r]).max() > 0.05
    first = cam.h36m_camera("S1", "54138969").intrinsics  # row 0: S1/Directions, first camera
    np.testing.assert_allclose(intr[0][4:], first.radial + first.tangential)


def test_stored_3d_agrees_with_the_cdf_world_poses_through_the_extrinsics(tiny_h5):
    release = tiny_h5.parent / "release"
    with open_h36m(tiny_h5) as f:
        j3, extr, frame, seq = f["joints3d"][...], f["extrinsics"][...], f["frame"][...], f["sequence"][...]
        names, subjects = _names(f["names/sequences"]), _names(f["names/subjects"])
        subject = f["subject"][...]
    for r in range(len(j3)):
        subj, stem = names[seq[r]].split("/")
        assert subjects[subject[r]] == subj
        world = np.asarray(cdflib.CDF(str(release / subj / "MyPoseFeatures" / "D3_Positions" / f"{stem}.cdf"))
                           .varget("Pose"), dtype=np.float64).reshape(-1, 32, 3)[frame[r]]
        e = cam.Extrinsics(tuple(extr[r][:4]), tuple(extr[r][4:]))
        back = cam.camera_to_world(j3[r].astype(np.float64), e)
        np.testing.assert_allclose(back, world[list(skeleton.H36M32_TO_17)], atol=0.05)  # float32 storage, mm


def test_crops_are_the_video_frames_resampled_around_the_person(tiny_h5):
    release = tiny_h5.parent / "release"
    with open_h36m(tiny_h5) as f:
        rows = [r for r in range(32) if _names(f["names/sequences"])[f["sequence"][r]] == "S9/Walking 1"
                and f["camera"][r] == 1]
        cap = cv2.VideoCapture(str(release / "S9" / "Videos" / "Walking 1.55011271.mp4"))
        frames = [cap.read()[1] for _ in range(20)]
        for r in rows:
            box = cam.CropBox(*(float(v) for v in f["crop_box"][r]))
            crop = cv2.imdecode(np.asarray(f["images"][r]), cv2.IMREAD_COLOR)
            want = cam.crop_image(frames[f["frame"][r]], box, 256)
            assert crop.shape == (256, 256, 3)
            assert np.abs(crop.astype(float) - want).mean() < 4.0  # JPEG error only
            uv = cam.image_to_crop(f["joints2d"][r], box, 256)
            assert (uv > 256 * 0.2 / 1.4 - 1).all() and (uv < 256 * 1.2 / 1.4 + 1).all()  # margin 0.2


def test_person_box_hand_computed():
    box = person_box(np.array([[10.0, 20.0], [30.0, 100.0]]), margin=0.25)
    assert (box.x0, box.y0, box.side) == (-40.0, 0.0, 120.0)
    with pytest.raises(ValueError, match=r"\(J, 2\) points, got \(4,\)"):
        person_box(np.zeros(4), 0.2)


def test_action_name_variants_are_ingested_as_canonical_actions(tmp_path):
    release = tmp_path / "rel"
    write_release(release, SynthConfig(subjects=("S1",), actions=("Photo", "WalkDog"), subactions=2, frames=3,
                                       cameras=("58860488",), image_size=160, seed=5))
    stems = sorted(p.stem for p in (release / "S1" / "MyPoseFeatures" / "D3_Positions").glob("*.cdf"))
    assert stems == ["TakingPhoto", "TakingPhoto 1", "WalkingDog", "WalkingDog 1"]  # S1's names in the release
    one = prepare_h36m(release, tmp_path / "a.h5", PrepareOptions(frame_step=1, crop_size=64))
    two = prepare_h36m(release, tmp_path / "b.h5", PrepareOptions(frame_step=1, crop_size=64, workers=2))
    assert one.rows == two.rows == 12 and one.count("converted") == 4
    with open_h36m(tmp_path / "a.h5") as a, open_h36m(tmp_path / "b.h5") as b:
        actions = _names(a["names/actions"])
        assert sorted({actions[i] for i in a["action"][...]}) == ["Photo", "WalkDog"]
        assert sorted(set(a["subaction"][...])) == [1, 2]
        seqs = _names(a["names/sequences"])
        subaction = {seqs[q]: int(n) for q, n in zip(a["sequence"][...], a["subaction"][...])}
        assert subaction == {"S1/TakingPhoto": 2, "S1/TakingPhoto 1": 1, "S1/WalkingDog": 2, "S1/WalkingDog 1": 1}
        for k in ("joints3d", "joints2d", "crop_box", "frame", "action", "sequence"):
            np.testing.assert_array_equal(a[k][...], b[k][...])  # parallel == serial
        assert all(np.array_equal(x, y) for x, y in zip(a["images"][...], b["images"][...]))


def test_resume_after_interrupted_conversion_and_merge(tiny_h5, tmp_path, monkeypatch):
    release, out = tiny_h5.parent / "release", tmp_path / "resumed.h5"
    real_convert = h36m.convert_sequence
    calls = []

    def convert_then_stop(*args):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(args[0].name)
        return real_convert(*args)

    monkeypatch.setattr(h36m, "convert_sequence", convert_then_stop)
    with pytest.raises(KeyboardInterrupt):
        prepare_h36m(release, out)
    monkeypatch.undo()
    parts = out.with_name(out.name + ".parts")
    assert not out.exists() and len(list(parts.glob("*.h5"))) == 3 and not list(parts.glob("*.tmp"))

    # second run: converts the rest, then is interrupted while merging
    real_file, partial = h5py.File, out.with_name(out.name + ".partial")
    opened = []

    def file_then_stop(name, mode="r", *a, **k):
        if partial.exists() and str(name).endswith(".h5") and ".parts" in str(name):
            opened.append(name)
            if len(opened) == 2:
                raise KeyboardInterrupt
        return real_file(name, mode, *a, **k)

    monkeypatch.setattr(h5py, "File", file_then_stop)
    seen = []
    with pytest.raises(KeyboardInterrupt):
        prepare_h36m(release, out, progress=lambda r, done, total: seen.append((r.status, done, total)))
    monkeypatch.undo()
    assert [s for s, _, _ in seen].count("reused") == 3 and [s for s, _, _ in seen].count("converted") == 5
    assert seen[-1][1:] == (8, 8)
    assert not out.exists() and not partial.exists()  # an interrupted merge leaves no stray file
    with real_file(partial, "w") as f:  # and a file without complete=True is never taken for one
        f.attrs["format"] = h36m.FORMAT
    with pytest.raises(ValueError, match="not a complete prepare-h36m file"):
        open_h36m(partial)

    summary = prepare_h36m(release, out)
    assert summary.count("reused") == SEQUENCES and summary.count("converted") == 0 and summary.rows == 32
    assert not partial.exists() and not parts.exists()
    with open_h36m(out) as f, open_h36m(tiny_h5) as ref:
        np.testing.assert_array_equal(f["joints3d"][...], ref["joints3d"][...])
        assert all(np.array_equal(x, y) for x, y in zip(f["images"][...], ref["images"][...]))


def test_leftover_parts_with_other_options_and_existing_output_are_refused(tiny_h5, tmp_path, monkeypatch):
    release, out = tiny_h5.parent / "release", tmp_path / "x.h5"
    monkeypatch.setattr(h36m, "convert_sequence", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        prepare_h36m(release, out, PrepareOptions(frame_step=5))
    monkeypatch.undo()
    with pytest.raises(ValueError, match="holds a conversion with other options"):
        prepare_h36m(release, out, PrepareOptions(frame_step=10))
    with pytest.raises(FileExistsError, match="already exists; pass overwrite"):
        prepare_h36m(release, tiny_h5)
    with pytest.raises(ValueError, match="frame_step >= 1"):
        PrepareOptions(frame_step=0)


def _rewrite_video(src, dst, frames):
    cap = cv2.VideoCapture(str(src))
    images = [cap.read()[1] for _ in range(20)]
    h, w = images[0].shape[:2]
    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), 50.0, (w, h))
    for k in range(frames):
        writer.write(images[min(k, 19)])
    writer.release()


@pytest.fixture
def damaged_release(tiny_h5, tmp_path):
    """The tiny release with a truncated CDF, a garbage video, a short and a long video."""
    release = tmp_path / "damaged"
    shutil.copytree(tiny_h5.parent / "release", release)
    cdf = release / "S1" / "MyPoseFeatures" / "D3_Positions" / "Walking 1.cdf"
    cdf.write_bytes(cdf.read_bytes()[:900])
    rng = np.random.default_rng(0)
    (release / "S9" / "Videos" / "Directions 1.55011271.mp4").write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    video = release / "S9" / "Videos" / "Walking 1.54138969.mp4"
    _rewrite_video(video, video, 12)
    video = release / "S1" / "Videos" / "Directions 1.55011271.mp4"
    _rewrite_video(video, video, 23)
    return release


def test_damaged_inputs_are_skipped_with_reasons_and_the_rest_converts(damaged_release, tmp_path):
    summary = prepare_h36m(damaged_release, tmp_path / "d.h5")
    skipped = {r.name: r.message for r in summary.results if r.status == "skipped"}
    assert sorted(skipped) == ["S1/Walking 1.54138969", "S1/Walking 1.55011271", "S9/Directions 1.55011271"]
    assert "truncated or unreadable CDF file" in skipped["S1/Walking 1.54138969"]
    assert "unreadable video" in skipped["S9/Directions 1.55011271"]
    assert summary.rows == 32 - 3 * 4 - 1  # the 12-frame video gives frames 0, 5, 10
    warnings = [w for r in summary.results for w in r.warnings]
    assert "S9/Walking 1.54138969: video has 12 frames, mocap 20 (-8 frames): used the first 12" in warnings
    assert "S1/Directions 1.55011271: video has 23 frames, mocap 20 (+3 frames): trimmed to the mocap" in warnings
    with open_h36m(tmp_path / "d.h5") as f:
        assert len(json.loads(f.attrs["skipped"])) == 3 and len(json.loads(f.attrs["warnings"])) == 2
        assert f["frame"][...].max() == 15


def test_cli_prepare_end_to_end_prints_the_summary(damaged_release, tmp_path, capsys):
    out = tmp_path / "cli.h5"
    code = cli.main(["prepare-h36m", "--root", str(damaged_release), "--out", str(out), "--frame-step", "10",
                     "--crop-size", "64", "--subjects", "S1,S9", "--no-progress"])
    text, err = capsys.readouterr()
    assert code == 0, err
    assert "10 rows from 8 sequences (converted 5, reused 0, skipped 3)" in text
    assert "skipped S9/Directions 1.55011271: unreadable video" in text
    assert "warning S9/Walking 1.54138969: video has 12 frames" in text
    with open_h36m(out) as f:
        assert f.attrs["crop_size"] == 64 and f.attrs["frame_step"] == 10 and int(f.attrs["rows"]) == 10
    code = cli.main(["prepare-h36m", "--root", str(damaged_release), "--out", str(tmp_path / "j.h5"), "--json",
                     "--subjects", "S9", "--frame-step", "10", "--crop-size", "64"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["skipped"] == 1 and doc["converted"] == 3 and doc["rows"] == 6


def test_cli_prepare_errors_are_one_line(tmp_path, capsys):
    code = cli.main(["prepare-h36m", "--root", str(tmp_path / "none"), "--out", str(tmp_path / "o.h5")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("movnect: error: Human3.6M release root not found") and err.count("\n") == 1
    code = cli.main(["prepare-h36m", "--root", str(tmp_path), "--out", str(tmp_path / "o.h5"), "--frame-step", "0"])
    assert code == 2 and "frame_step >= 1" in capsys.readouterr().err


@pytest.fixture(scope="module")
def quirky_release(tmp_path_factory):
    return build_quirks(tmp_path_factory.mktemp("quirks"))


def test_generator_reproduces_the_damaged_takes(quirky_release):
    poses = quirky_release / "S9" / "MyPoseFeatures" / "D3_Positions"
    assert len(cdflib.CDF(str(poses / "Greeting.cdf")).varget("Pose")[0]) == 4      # half the 8 video frames
    assert len(cdflib.CDF(str(poses / "Greeting 1.cdf")).varget("Pose")[0]) == 8
    assert not cv2.VideoCapture(str(quirky_release / "S11" / "Videos" / "Directions.54138969.mp4")).isOpened()
    assert cv2.VideoCapture(str(quirky_release / "S11" / "Videos" / "Directions.55011271.mp4")).isOpened()


def test_damaged_takes_are_left_out_by_default_with_a_summary_line(quirky_release, tmp_path):
    s = prepare_h36m(quirky_release, tmp_path / "a.h5", PrepareOptions(frame_step=4, crop_size=32))
    assert sorted(s.damaged) == ["S11/Directions.54138969", "S9/Greeting.54138969", "S9/Greeting.55011271"]
    assert s.count("converted") == 13 and s.count("skipped") == 0
    assert s.damaged_line() == ("left out 3 sequences of known damaged takes (S9/Greeting: 2 cameras, "
                                "S11/Directions: 54138969); --keep-damaged keeps them")
    assert [w for r in s.results for w in r.warnings] == []
    with open_h36m(tmp_path / "a.h5") as f:
        assert json.loads(f.attrs["damaged"]) == {"variant": "excluded", "left_out": s.damaged}
        seqs = _names(f["names/sequences"])
        assert "S9/Greeting" not in seqs and "S11/Directions" in seqs  # its other camera is fine
        sub = {seqs[q]: int(n) for q, n in zip(f["sequence"][...], f["subaction"][...])}
        assert sub["S11/Directions"] == 2 and sub["S11/Directions 1"] == 1 and sub["S9/Greeting 1"] == 1


def test_keep_damaged_converts_them_and_warns_about_the_length_mismatch(quirky_release, tmp_path):
    s = prepare_h36m(quirky_release, tmp_path / "k.h5", PrepareOptions(frame_step=4, crop_size=32, keep_damaged=True))
    assert s.damaged == [] and s.damaged_line().startswith("known damaged takes kept")
    skipped = {r.name: r.message for r in s.results if r.status == "skipped"}
    assert list(skipped) == ["S11/Directions.54138969"] and "unreadable video" in skipped["S11/Directions.54138969"]
    warnings = [w for r in s.results for w in r.warnings]
    assert warnings == [f"S9/Greeting.{c}: video has 8 frames, mocap 4 (+4 frames): trimmed to the mocap"
                        for c in ("54138969", "55011271")]
    with open_h36m(tmp_path / "k.h5") as f:
        assert json.loads(f.attrs["damaged"])["variant"] == "kept"


def test_mismatches_of_at_most_two_frames_are_counted_not_warned(tiny_h5, tmp_path):
    release = tmp_path / "rel"
    shutil.copytree(tiny_h5.parent / "release", release)
    for stem, n in (("Walking 1", 22), ("Directions 1", 18)):  # +2 and -2 frames
        video = release / "S1" / "Videos" / f"{stem}.54138969.mp4"
        _rewrite_video(video, video, n)
    s = prepare_h36m(release, tmp_path / "m.h5", PrepareOptions(frame_step=5, crop_size=32))
    assert [w for r in s.results for w in r.warnings] == [] and s.small_mismatches() == 2
    lengths = {r.name: (r.video_frames, r.mocap_frames) for r in s.results}
    assert lengths["S1/Walking 1.54138969"] == (22, 20) and lengths["S1/Directions 1.54138969"] == (18, 20)
    assert lengths["S9/Walking 1.55011271"] == (20, 20)
    assert h36m.length_warning("x", 23, 20) == "x: video has 23 frames, mocap 20 (+3 frames): trimmed to the mocap"
    assert h36m.length_warning("x", 17, 20) == "x: video has 17 frames, mocap 20 (-3 frames): used the first 17"


def test_cli_prepare_names_the_damaged_takes_and_keep_damaged(quirky_release, tmp_path, capsys):
    code = cli.main(["prepare-h36m", "--root", str(quirky_release), "--out", str(tmp_path / "c.h5"), "--subjects", "S9",
                     "--frame-step", "4", "--crop-size", "32", "--no-progress"])
    text = capsys.readouterr().out
    assert code == 0 and "left out 2 sequences of known damaged takes (S9/Greeting: 2 cameras); --keep-damaged" in text
    code = cli.main(["prepare-h36m", "--root", str(quirky_release), "--out", str(tmp_path / "d.h5"), "--subjects", "S9",
                     "--frame-step", "4", "--crop-size", "32", "--no-progress", "--keep-damaged"])
    text = capsys.readouterr().out
    assert code == 0 and "warning S9/Greeting.54138969: video has 8 frames, mocap 4 (+4 frames)" in text
    assert "known damaged takes kept (--keep-damaged)" in text


def test_h36m_fetch_extracted_layout_is_read_like_the_official_one(tiny_h5, tmp_path):
    extracted = tmp_path / "extracted"  # h36m-fetch: extracted/S1/Poses_D3_Positions/*.cdf, extracted/S1/Videos
    shutil.copytree(tiny_h5.parent / "release", extracted)
    for subject in ("S1", "S9"):
        (extracted / subject / "MyPoseFeatures" / "D3_Positions").rename(extracted / subject / "Poses_D3_Positions")
        (extracted / subject / "MyPoseFeatures").rmdir()
        (extracted / subject / "Poses_D3_Positions_mono").mkdir()  # present in h36m-fetch, not read
    s = prepare_h36m(extracted, tmp_path / "f.h5", PrepareOptions(frame_step=5))
    with open_h36m(tmp_path / "f.h5") as a, open_h36m(tiny_h5) as b:
        assert s.rows == int(b.attrs["rows"])
        for k in ("joints3d", "frame", "subaction", "sequence", "camera"):
            np.testing.assert_array_equal(a[k][...], b[k][...])
    only_mono = tmp_path / "mono"
    (only_mono / "S1" / "Poses_D3_Positions_mono").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"h36m-fetch: give its `extracted` folder .* Poses_D3_Positions_S\*\.tgz"):
        prepare_h36m(only_mono, tmp_path / "g.h5")
