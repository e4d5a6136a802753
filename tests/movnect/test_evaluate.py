"""Evaluation: protocol row selection, hand-computed per-action figures, reports, checkpoint
runs with the flip test, and one-line CLI errors for bad inputs."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
import torch

from movnect import evaluate
from movnect.checkpoint import save_checkpoint
from movnect.cli import main
from movnect.codec import Codec, CodecConfig
from movnect.data.dataset import H36MDataset
from movnect.estimator import TorchEstimator, flip_test
from movnect.models import ModelConfig, build_model
from tests.movnect.data.fixtures import build_quirks, build_tiny

ACTIONS = ["Directions", "Eating", "Walking"]


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread (two spin-wait badly on the shared 2-core machine); restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _pose(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(scale=250.0, size=(17, 3)) + np.array([0.0, 0.0, 4500.0])


def write_h5(path: Path, with3d: bool = True, crop: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
    """A minimal file in the prepare-h36m schema (docs/data.md): subjects S1, S9, S11; frames
    0, 32, 64, ..., 224 of one action per subject; two cameras; random JPEG crops."""
    rng = np.random.default_rng(seed)
    rows = [(s, a, c, fr) for s, a in ((0, 0), (1, 1), (2, 2), (1, 0)) for c in (0, 1) for fr in range(0, 256, 32)]
    subj, act, cam, frame = (np.array(x) for x in zip(*rows))
    j3 = np.stack([_pose(rng) for _ in rows]).astype(np.float32)
    jpgs = [np.frombuffer(cv2.imencode(".jpg", rng.integers(0, 255, (crop, crop, 3), dtype=np.uint8))[1].tobytes(),
                          dtype=np.uint8) for _ in rows]
    with h5py.File(path, "w") as f:
        img = f.create_dataset("images", (len(rows),), dtype=h5py.vlen_dtype(np.uint8))
        img[...] = np.array(jpgs + [None], dtype=object)[:-1]
        if with3d:
            f["joints3d"] = j3
        f["subject"], f["action"] = subj.astype(np.int16), act.astype(np.int16)
        f["camera"], f["frame"] = cam.astype(np.int16), frame.astype(np.int32)
        s = h5py.string_dtype()
        f.create_dataset("names/subjects", data=np.array(["S1", "S9", "S11"], dtype=object), dtype=s)
        f.create_dataset("names/actions", data=np.array(ACTIONS, dtype=object), dtype=s)
        f.create_dataset("names/cameras", data=np.array(["54138969", "55011271"], dtype=object), dtype=s)
        f.attrs.update({"format": "movnect-h36m", "complete": True, "frame_step": 32, "crop_size": crop})
    return {"subject": subj, "action": act, "frame": frame, "joints3d": j3}


def test_protocol_selects_subjects_and_frame_step(tmp_path: Path) -> None:
    meta = write_h5(tmp_path / "d.h5")
    gt = evaluate.load_ground_truth(tmp_path / "d.h5", evaluate.Protocol(("S9", "S11"), 64))
    want = np.flatnonzero(np.isin(meta["subject"], [1, 2]) & (meta["frame"] % 64 == 0))
    np.testing.assert_array_equal(gt.rows, want)
    assert len(gt.rows) == 3 * 2 * 4  # three sequences x two cameras x frames 0, 64, 128, 192
    np.testing.assert_array_equal(gt.joints3d, meta["joints3d"][want])
    assert gt.cameras == ["54138969", "55011271"] and gt.file_frame_step == 32


def _npz(path: Path, index: np.ndarray, joints: np.ndarray) -> Path:
    np.savez(path, index=index, joints3d=joints)
    return path


def test_scores_from_predictions_hand_computed(tmp_path: Path) -> None:
    write_h5(tmp_path / "d.h5")
    proto = evaluate.Protocol(("S9", "S11"), 64)
    gt = evaluate.load_ground_truth(tmp_path / "d.h5", proto)
    pred = gt.joints3d.copy() + 1000.0  # a global shift is removed by every alignment
    # action 1 (Eating): move the left wrist 30 mm along x in every frame
    eating = gt.action == 1
    pred[eating, 13, 0] += 30.0
    # action 0 (Directions, subject S9 part): a rotated + scaled copy: PA-MPJPE 0, MPJPE not
    rot = cv2.Rodrigues(np.array([0.0, 0.7, 0.0]))[0]
    d = gt.action == 0
    pred[d] = 1.2 * (gt.joints3d[d] - gt.joints3d[d][:, :1]) @ rot.T
    order = np.random.default_rng(1).permutation(len(gt.rows))  # any row order is accepted
    _npz(tmp_path / "p.npz", gt.rows[order], pred[order])
    res = evaluate.evaluate(tmp_path / "d.h5", proto, predictions=tmp_path / "p.npz")
    eat = res["per_action"]["Eating"]
    assert eat["frames"] == int(eating.sum()) == 8
    assert eat["mpjpe"] == pytest.approx(30.0 / 17)
    assert res["per_action"]["Walking"]["mpjpe"] == pytest.approx(0.0, abs=1e-6)
    assert res["per_action"]["Directions"]["pa_mpjpe"] == pytest.approx(0.0, abs=1e-6)
    assert res["per_action"]["Directions"]["mpjpe"] > 50.0
    assert res["per_joint"]["left_wrist"]["mpjpe"] > res["per_joint"]["right_wrist"]["mpjpe"]
    n = len(gt.rows)
    assert res["overall"]["mpjpe"] == pytest.approx(
        (8 * 30.0 / 17 + d.sum() * res["per_action"]["Directions"]["mpjpe"]) / n)
    assert res["action_mean"]["mpjpe"] == pytest.approx(np.mean([r["mpjpe"] for r in res["per_action"].values()]))
    assert res["protocol"]["subjects"] == ["S9", "S11"] and res["protocol"]["frame_step"] == 64
    assert 0 <= res["overall"]["auc"] <= res["overall"]["pck150"] <= 100


def test_report_files_name_the_protocol(tmp_path: Path) -> None:
    write_h5(tmp_path / "d.h5")
    gt = evaluate.load_ground_truth(tmp_path / "d.h5", evaluate.Protocol())
    _npz(tmp_path / "p.npz", gt.rows, gt.joints3d + 5.0)
    assert main(["eval", "--data", str(tmp_path / "d.h5"), "--predictions", str(tmp_path / "p.npz"),
                 "--out", str(tmp_path / "rep")]) == 0
    md = (tmp_path / "rep" / "eval.md").read_text()
    assert "subjects: S9, S11" in md and "every 64th video frame" in md and "no reflection" in md
    assert "| Eating |" in md and "| left_wrist |" in md
    assert json.loads((tmp_path / "rep" / "eval.json").read_text())["overall"]["mpjpe"] == pytest.approx(0.0, abs=1e-4)
    assert (tmp_path / "rep" / "eval_actions.png").read_bytes()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def tiny_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data package's tiny synthetic release, prepared (S1, S9; frames 0, 5, 10, 15)."""
    return build_tiny(tmp_path_factory.mktemp("tiny"))[1]


def test_checkpoint_eval_with_flip_test(tmp_path: Path, tiny_h5: Path) -> None:
    cfg = ModelConfig(name="movnect", width=0.35)
    torch.manual_seed(0)
    model = build_model(cfg)
    codec = Codec(CodecConfig(input_size=64))  # the stored 256 px crops are resized by the Dataset
    save_checkpoint(tmp_path / "m.pt", model, cfg, codec)
    proto = evaluate.Protocol(("S9",), 5, flip_test=False)
    gt = evaluate.load_ground_truth(tiny_h5, proto)
    assert len(gt.rows) == 2 * 2 * 4
    est = TorchEstimator(model, codec)
    plain = evaluate.predict_rows(est, tiny_h5, gt.rows, batch_size=5).joints3d
    flip = evaluate.predict_rows(flip_test(est), tiny_h5, gt.rows, batch_size=7).joints3d
    assert plain.shape == flip.shape == (len(gt.rows), 17, 3)
    assert not np.allclose(plain, flip)
    # independent of the batching: the flip test is the decoded mean of the crop's maps and the
    # mirrored crop's maps mapped back
    x = torch.stack([H36MDataset(tiny_h5, codec, rows=gt.rows[:2])[i]["image"] for i in range(2)])
    with torch.no_grad():
        model.eval()
        avg = 0.5 * (model(x).maps + codec.flip_maps(model(x.flip(-1)).maps))
    np.testing.assert_allclose(codec.decode(avg).joints3d.numpy(), flip[:2], atol=1e-3)
    assert main(["eval", "--checkpoint", str(tmp_path / "m.pt"), "--data", str(tiny_h5), "--subjects", "S9",
                 "--frame-step", "5", "--flip-test", "--out", str(tmp_path / "r")]) == 0
    res = json.loads((tmp_path / "r" / "eval.json").read_text())
    assert res["protocol"]["flip_test"] and res["frames"] == len(gt.rows)
    assert res["overall"]["mpjpe"] == pytest.approx(
        float(np.linalg.norm(flip - (gt.joints3d - gt.joints3d[:, :1]), axis=-1).mean()), rel=1e-4)
    # a frame step the file cannot give is refused, not silently thinned
    with pytest.raises(ValueError, match="cannot give every 64th"):
        evaluate.load_ground_truth(tiny_h5, evaluate.Protocol(("S9",), 64))


def _run_err(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("movnect: error:") and "\n" not in err
    return err


def test_bad_inputs_give_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_h5(tmp_path / "d.h5")
    write_h5(tmp_path / "no3d.h5", with3d=False)
    gt = evaluate.load_ground_truth(tmp_path / "d.h5", evaluate.Protocol())
    data = ["eval", "--data", str(tmp_path / "d.h5"), "--out", str(tmp_path / "r"), "--predictions"]
    err = _run_err(["eval", "--data", str(tmp_path / "no3d.h5"), "--predictions",
                    str(_npz(tmp_path / "a.npz", gt.rows, gt.joints3d))], capsys)
    assert "no 3D labels" in err
    err = _run_err(data + [str(_npz(tmp_path / "b.npz", gt.rows, gt.joints3d[:, :16]))], capsys)
    assert "joints3d must have shape (N, 17, 3), got (24, 16, 3)" in err
    err = _run_err(data + [str(_npz(tmp_path / "c.npz", gt.rows[:-1], gt.joints3d[:-1]))], capsys)
    assert "predictions cover 23 rows but the protocol selects 24" in err
    np.savez(tmp_path / "d.npz", rows=gt.rows, joints3d=gt.joints3d)
    assert "missing key(s) index (has joints3d, rows" in _run_err(data + [str(tmp_path / "d.npz")], capsys)
    assert "has no subject(s) S7" in _run_err(
        data[:-1] + ["--subjects", "S7", "--predictions", str(tmp_path / "a.npz")], capsys)
    assert "not found" in _run_err(["eval", "--data", str(tmp_path / "d.h5"), "--checkpoint",
                                    str(tmp_path / "missing.pt")], capsys)


def test_damaged_takes_are_left_out_of_the_score_unless_kept_and_the_protocol_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from movnect.data.h36m import PrepareOptions, prepare_h36m

    release = build_quirks(tmp_path / "rel")
    kept = tmp_path / "kept.h5"
    prepare_h36m(release, kept, PrepareOptions(frame_step=2, crop_size=32, keep_damaged=True))
    every = evaluate.load_ground_truth(kept, evaluate.Protocol(("S9", "S11"), 2, keep_damaged=True))
    clean = evaluate.load_ground_truth(kept, evaluate.Protocol(("S9", "S11"), 2))
    # S9/Greeting: 2 cameras x frames 0, 2 of its 4-frame mocap; S11/Directions.54138969 is unreadable
    assert len(every.rows) - len(clean.rows) == 4 and clean.damaged["rows"] == 4
    assert evaluate.damaged_description(clean.damaged).endswith("excluded (4 rows left out here)")
    assert "kept (--keep-damaged), 4 of the scored rows" in evaluate.damaged_description(every.damaged)
    _npz(tmp_path / "p.npz", clean.rows, clean.joints3d)
    assert main(["eval", "--data", str(kept), "--predictions", str(tmp_path / "p.npz"), "--frame-step", "2",
                 "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "damaged takes (S9/Greeting (all cameras); S9/SittingDown 1 (all cameras); S9/Waiting 1 (all cameras); " \
           "S11/Directions (camera 54138969)): excluded (4 rows left out here)" in out
    assert "- damaged takes (" in (tmp_path / "r" / "eval.md").read_text()
    res = json.loads((tmp_path / "r" / "eval.json").read_text())
    assert res["protocol"]["keep_damaged"] is False and "excluded" in res["protocol"]["damaged_takes"]
    clean_file = tmp_path / "clean.h5"
    prepare_h36m(release, clean_file, PrepareOptions(frame_step=2, crop_size=32))
    gt = evaluate.load_ground_truth(clean_file, evaluate.Protocol(("S9", "S11"), 2))
    assert np.array_equal(gt.joints3d, clean.joints3d)
    assert evaluate.damaged_description(gt.damaged).endswith("excluded (the file was prepared without them)")


def _stored_boxes(h5: Path, rows: np.ndarray) -> np.ndarray:
    """x0, y0, x1, y1 of the stored 2D joints: the box prepare-h36m framed each crop around."""
    with h5py.File(h5, "r") as f:
        j2 = f["joints2d"][...][rows]
    return np.concatenate([j2.min(axis=1), j2.max(axis=1)], axis=1)


def test_crops_from_a_boxes_file_and_a_detector(tmp_path: Path, tiny_h5: Path) -> None:
    from movnect.camera import CropBox
    from movnect.eval_crops import CropSource, predict_video_crops, read_boxes, square_box, video_crops

    cfg = ModelConfig(name="movnect", width=0.35)
    torch.manual_seed(0)
    model = build_model(cfg)
    codec = Codec(CodecConfig(input_size=64))
    gt = evaluate.load_ground_truth(tiny_h5, evaluate.Protocol(("S9",), 5))
    boxes = _stored_boxes(tiny_h5, gt.rows)
    np.savez(tmp_path / "b.npz", index=gt.rows[::-1], boxes=boxes[::-1])  # any order
    same = CropSource.parse(f"file:{tmp_path / 'b.npz'}")
    # the joints' own boxes give back the stored boxes and crops (up to the float32 storage of the
    # joints: a box a few 1e-5 px off changes the odd pixel) and the same predictions
    with h5py.File(tiny_h5, "r") as f:
        for k, crop in video_crops(tiny_h5, gt.rows, same):
            np.testing.assert_allclose(square_box(boxes[k], 0.2).as_array(), f["crop_box"][gt.rows[k]], atol=1e-3)
            stored = cv2.cvtColor(cv2.imdecode(f["images"][gt.rows[k]], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            diff = np.abs(crop.astype(int) - stored)
            assert diff.max() <= 8 and diff.mean() < 0.01, (diff.max(), diff.mean())  # JPEG spreads a 1-level change
    est = TorchEstimator(model, codec)
    np.testing.assert_allclose(predict_video_crops(est, tiny_h5, gt.rows, same, batch_size=5),
                               evaluate.predict_rows(est, tiny_h5, gt.rows).joints3d, atol=0.5)
    shifted = boxes + np.array([40.0, 0.0, 40.0, 0.0])
    np.savez(tmp_path / "s.npz", index=gt.rows, boxes=shifted)
    save_checkpoint(tmp_path / "m.pt", model, cfg, codec)
    res = evaluate.evaluate(tiny_h5, evaluate.Protocol(("S9",), 5), checkpoint=tmp_path / "m.pt",
                            crops=CropSource.parse(f"file:{tmp_path / 's.npz'}"))
    base = evaluate.evaluate(tiny_h5, evaluate.Protocol(("S9",), 5), checkpoint=tmp_path / "m.pt")
    k, moved = next(video_crops(tiny_h5, gt.rows, CropSource.parse(f"file:{tmp_path / 's.npz'}")))
    with h5py.File(tiny_h5, "r") as f:
        stored = cv2.cvtColor(cv2.imdecode(f["images"][gt.rows[k]], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.abs(moved.astype(int) - stored).mean() > 3.0  # other boxes, other crops
    assert res["protocol"]["crops"]["source"] == f"file:{tmp_path / 's.npz'}"
    assert base["protocol"]["crops"]["description"].startswith("ground-truth box")
    # a detector: frames without a detection take the previous box (counted, reported)
    calls: list[int] = []

    def detector(rgb: np.ndarray) -> CropBox | None:
        calls.append(1)
        return None if len(calls) % 2 else CropBox.around((rgb.shape[1] / 2, rgb.shape[0] / 2), rgb.shape[0] / 2)

    det = CropSource("detector", detector=detector, detector_name="test detector")
    res = evaluate.evaluate(tiny_h5, evaluate.Protocol(("S9",), 5), checkpoint=tmp_path / "m.pt", crops=det)
    assert len(calls) == len(gt.rows) and res["protocol"]["crops"]["detector_misses"] == len(gt.rows) // 2
    assert "person detector (test detector) on the full video frames; 8 of 16 rows without a detection" in \
        res["protocol"]["crops"]["description"]
    with pytest.raises(ValueError, match=r"no box for 1 of the protocol's 16 rows"):
        np.savez(tmp_path / "short.npz", index=gt.rows[1:], boxes=boxes[1:])
        read_boxes(tmp_path / "short.npz", gt.rows)
    with pytest.raises(ValueError, match="must be gt, file:PATH or detector"):
        CropSource.parse("yolo")
    with pytest.raises(ValueError, match="--crops applies to --checkpoint"):
        _npz(tmp_path / "p.npz", gt.rows, gt.joints3d)
        evaluate.evaluate(tiny_h5, evaluate.Protocol(("S9",), 5), predictions=tmp_path / "p.npz", crops=same)


def test_cli_eval_names_the_crop_source_and_runs_the_blazepose_detector(
        tmp_path: Path, tiny_h5: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from movnect import assets

    cfg = ModelConfig(name="movnect", width=0.35)
    save_checkpoint(tmp_path / "m.pt", build_model(cfg), cfg, Codec(CodecConfig(input_size=64)))
    args = ["eval", "--checkpoint", str(tmp_path / "m.pt"), "--data", str(tiny_h5), "--subjects", "S9", "--frame-step", "5"]
    assert main(args + ["--out", str(tmp_path / "r")]) == 0
    assert "crops: ground-truth box" in capsys.readouterr().out
    assert "- crops: ground-truth box: the stored crops" in (tmp_path / "r" / "eval.md").read_text()
    try:
        assets.asset_path("pose_detection")
    except Exception as exc:  # the model file is fetched by `make assets`; without it only gt / file: work
        pytest.skip(f"BlazePose detector not available: {exc}")
    assert main(args + ["--crops", "detector", "--out", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert "crops: person detector (BlazePose PersonFinder" in out and "rows without a detection" in out
    assert json.loads((tmp_path / "d" / "eval.json").read_text())["protocol"]["crops"]["source"] == "detector"


def test_paper_protocols_name_the_metric_subjects_and_sampling(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_h5(tmp_path / "d.h5")
    gt = evaluate.load_ground_truth(tmp_path / "d.h5", evaluate.Protocol())
    _npz(tmp_path / "p.npz", gt.rows, gt.joints3d + np.array([3.0, 4.0, 0.0]) * (np.arange(17) % 2)[:, None])
    res = evaluate.evaluate(tmp_path / "d.h5", evaluate.Protocol(), predictions=tmp_path / "p.npz")
    papers = res["papers"]
    assert papers["protocol_1_mpjpe_mm"] == res["action_mean"]["mpjpe"] and papers["comparable"]
    assert papers["protocol_2_pa_mpjpe_mm"] == res["action_mean"]["pa_mpjpe"]
    assert "image-based papers (3DMPPE, integral regression)" in papers["sampling"]
    assert papers["line"].startswith(f"Protocol #1 (MPJPE) {res['action_mean']['mpjpe']:.1f} mm, Protocol #2 (PA-MPJPE)")
    res32 = evaluate.evaluate(tmp_path / "d.h5", evaluate.Protocol(frame_step=32),
                              predictions=_npz(tmp_path / "q.npz", *_gt32(tmp_path / "d.h5")))
    assert not res32["papers"]["comparable"] and "matches neither" in res32["papers"]["sampling"]
    res["protocol"]["frame_step"] = 1
    assert "sequence-based papers (VideoPose3D)" in evaluate.paper_protocols(res)["sampling"]
    assert main(["eval", "--data", str(tmp_path / "d.h5"), "--predictions", str(tmp_path / "p.npz"),
                 "--out", str(tmp_path / "r")]) == 0
    assert "Protocol #1 (MPJPE)" in capsys.readouterr().out
    assert "- as papers name it: Protocol #1 (MPJPE)" in (tmp_path / "r" / "eval.md").read_text()


def _gt32(h5: Path) -> tuple[np.ndarray, np.ndarray]:
    gt = evaluate.load_ground_truth(h5, evaluate.Protocol(frame_step=32))
    return gt.rows, gt.joints3d


def test_max_rows_takes_an_even_spread_and_2d_labels_match_the_datasets(tiny_h5: Path) -> None:
    full = evaluate.load_ground_truth(tiny_h5, evaluate.Protocol(("S9",), 5))
    capped = evaluate.load_ground_truth(tiny_h5, evaluate.Protocol(("S9",), 5, max_rows=4))
    n = len(full.rows)
    np.testing.assert_array_equal(capped.rows, full.rows[[0, round((n - 1) / 3), round(2 * (n - 1) / 3), n - 1]])
    assert capped.selected == n and len(evaluate.load_ground_truth(
        tiny_h5, evaluate.Protocol(("S9",), 5, max_rows=10 * n)).rows) == n
    with pytest.raises(ValueError, match="max_rows must be >= 1"):
        evaluate.Protocol(max_rows=0)
    # the 2D labels in stored-crop px are the training Dataset's (an independent path: camera.image_to_crop)
    data = H36MDataset(tiny_h5, Codec(CodecConfig(input_size=64)), rows=capped.rows)
    ref = np.stack([data.raw(i)["joints2d"] for i in range(len(data))])
    np.testing.assert_allclose(capped.joints2d, ref, atol=1e-4)
    # the 2D error is in px of the model's input: the labels scaled by 64 / 256, a (3, 4) shift is 5 px
    scaled = ref * (64 / capped.crop_size)
    assert evaluate.joints2d_error(scaled + np.array([3.0, 4.0]), capped, 64) == pytest.approx(5.0)
    assert evaluate.joints2d_error(scaled, capped, 64) == pytest.approx(0.0, abs=1e-6)
