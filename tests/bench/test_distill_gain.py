"""bench/distill_gain.py: the paired statistics against hand-computed cases, and a tiny CPU smoke
run of the whole sweep (3 seeds, 2 budgets, every method, a few steps on a tiny release) that
checks the JSON's shape, the pairing and that selection never reads the test subjects."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from distill_stats import paired_difference  # noqa: E402


def test_paired_difference_against_a_hand_computed_case() -> None:
    # diffs 5, 4, 3: mean 4, sd 1, se 1/sqrt(3); t(0.975, 2 dof) = 4.302653
    r = paired_difference([110.0, 112.0, 114.0], [105.0, 108.0, 111.0])
    assert r["n"] == 3 and r["diffs"] == [5.0, 4.0, 3.0]
    assert r["mean"] == pytest.approx(4.0) and r["sd"] == pytest.approx(1.0)
    assert r["se"] == pytest.approx(1 / math.sqrt(3))
    assert r["t_crit"] == pytest.approx(4.302653, abs=1e-6)
    half = 4.302653 / math.sqrt(3)
    assert r["ci"][0] == pytest.approx(4 - half, abs=1e-5) and r["ci"][1] == pytest.approx(4 + half, abs=1e-5)
    # 2 dof: two-sided p = 1 - |t| / sqrt(2 + t^2); t = 4 sqrt(3), t^2 = 48
    assert r["t"] == pytest.approx(4 * math.sqrt(3))
    assert r["p"] == pytest.approx(1 - math.sqrt(48 / 50), rel=1e-6)
    assert r["gain_pct"] == pytest.approx(100 * 4 / 112) and r["verdict"] == "gain"


def test_the_old_two_seed_claim_is_inconclusive() -> None:
    # README before issue 17: scratch 116.7, 110.5 vs DWPose stage 1 109.0, 104.4 (seeds 0, 1)
    r = paired_difference([116.7, 110.5], [109.0, 104.4])
    assert r["mean"] == pytest.approx(6.9) and r["t"] == pytest.approx(6.9 / 0.8)
    # 1 dof (Cauchy): two-sided p = 1 - (2 / pi) atan(|t|)
    assert r["p"] == pytest.approx(1 - 2 / math.pi * math.atan(6.9 / 0.8), rel=1e-6)
    assert 0.06 < r["p"] < 0.08 and r["ci"][0] < 0 < r["ci"][1] and r["verdict"] == "inconclusive"


def test_paired_difference_edge_cases() -> None:
    assert paired_difference([100.0, 101.0], [103.0, 104.0])["verdict"] == "loss"
    one = paired_difference([100.0], [90.0])
    assert one["ci"] is None and one["p"] is None and one["verdict"] == "inconclusive"
    same = paired_difference([100.0, 102.0, 104.0], [99.0, 101.0, 103.0])  # identical differences
    assert same["sd"] == 0 and same["ci"] == (1.0, 1.0) and same["p"] == 0.0 and same["verdict"] == "gain"
    with pytest.raises(ValueError, match="2 baseline values but 1"):
        paired_difference([1.0, 2.0], [1.0])


@pytest.fixture(scope="module")
def tiny_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from movnect.data.h36m import PrepareOptions, prepare_h36m
    from movnect.data.synthetic import SynthConfig, write_release

    root = tmp_path_factory.mktemp("distill_gain")
    write_release(root / "release", SynthConfig(subjects=("S1", "S5", "S6", "S7", "S8", "S9", "S11"),
                                                actions=("Walking",), subactions=1, frames=4,
                                                cameras=("54138969",), image_size=160))
    h5 = root / "synth.h5"
    prepare_h36m(root / "release", h5, PrepareOptions(crop_size=64, frame_step=1))
    return h5


@pytest.mark.slow
def test_smoke_run_writes_the_paired_report(tiny_h5: Path, tmp_path: Path, monkeypatch) -> None:
    import distill_gain
    import distill_runs

    scored: list[tuple[str, ...]] = []
    real = distill_runs.evaluate

    def spy(data, protocol, **kw):  # noqa: ANN001, ANN202
        scored.append(protocol.subjects)
        return real(data, protocol, **kw)

    monkeypatch.setattr(distill_runs, "evaluate", spy)
    work = tmp_path / "work"
    argv = ["--data-h5", str(tiny_h5), "--work", str(work), "--seeds", "3", "--budgets", "1,2", "--steps", "2",
            "--teacher-steps", "2", "--teacher-cycles", "1", "--epochs", "1", "--batch", "2", "--input-size", "64",
            "--width", "0.25", "--teacher", "movnect", "--teacher-width", "0.5", "--lrs", "1e-3,3e-3", "--augment", "off",
            "--dwpose-weights", "ours,dwpose", "--train-frame-step", "1", "--val-frame-step", "1", "--val-samples", "4",
            "--test-frame-step", "1", "--threads", "1", "--workers", "0"]
    out = distill_gain.main(argv)
    assert json.loads((work / "result.json").read_text()) == json.loads(json.dumps(out))
    assert set(out["budgets"]) == {"1x", "2x"} and out["design"]["budgets"] == {"1x": 2, "2x": 4}
    assert out["not_run"] == [] and out["design"]["seeds"] == [0, 1, 2]
    for b in out["budgets"].values():
        assert b["chosen"]["by"].startswith("S8") and len(b["grid_seed0"]) == 2
        best = min(b["grid_seed0"], key=lambda c: c["val_mpjpe"])
        assert b["chosen"]["lr"] == best["lr"]  # the grid's choice is the S8 minimum
        assert set(b["arms"]) == {"scratch", "mimicry", "dwpose_ours", "dwpose_dwpose", "dwpose", "okdhp"}
        v = b["dwpose_weights_chosen"]
        assert v["val"][f"dwpose_{v['variant']}"] == min(v["val"].values())  # chosen on mean S8 validation
        for arm in b["arms"].values():
            assert arm["seeds"] == [0, 1, 2] and len(arm["test_mpjpe"]) == 3 and arm["missing_seeds"] == []
        assert set(b["paired_vs_scratch"]) == {"mimicry", "dwpose", "okdhp"}
        for method, p in b["paired_vs_scratch"].items():
            scratch, mine = b["arms"]["scratch"]["test_mpjpe"], b["arms"][method]["test_mpjpe"]
            expect = paired_difference(scratch, mine)
            assert p["n"] == 3 and p["diffs"] == pytest.approx(expect["diffs"], abs=0.01)
            assert p["ci"] == pytest.approx(list(expect["ci"]), abs=0.01) and p["verdict"] == expect["verdict"]
        assert all(s in ("stage1", "stage2") for s in b["arms"]["dwpose"]["exported_stage"])
    assert set(out["survival"]) == {"mimicry", "dwpose", "okdhp"}
    assert (work / "teacher_cache.h5").is_file()  # cpu + un-augmented arms: the teacher ran once
    recs = [json.loads(x) for x in (work / "runs.jsonl").read_text().splitlines()]
    kinds = {r.get("method"): r.get("teacher_outputs") for r in recs if r["kind"] == "distill"}
    assert kinds == {"mimicry": "cache", "dwpose": "cache", "okdhp": "none"}
    lines = (work / "runs.jsonl").read_text().splitlines()
    # teacher + 2 budgets x (2 grid cells + 3 seeds x 5 arms, seed 0's scratch = a grid cell)
    assert len(lines) == 1 + 2 * (2 + 3 * 5 - 1)
    assert all(s == ("S9", "S11") for s in scored)  # only test scoring calls evaluate; S8 is validation
    # a second call reuses every finished run
    again = distill_gain.main(argv)
    assert again["budgets"] == out["budgets"] and len((work / "runs.jsonl").read_text().splitlines()) == len(lines)


def test_bench_cache_serves_the_live_teachers_outputs(tiny_h5: Path, tmp_path: Path) -> None:
    import argparse

    import distill_gain
    from distill_runs import Bench
    from movnect.checkpoint import save_checkpoint
    from movnect.models import ModelConfig, build_model
    from teacher_student.cache import CachedTeacherDataset, TeacherCache
    from teacher_student.trainers import load_teacher

    args: argparse.Namespace = distill_gain.parse(["--data-h5", str(tiny_h5), "--work", str(tmp_path), "--input-size", "64",
                                                   "--width", "0.25", "--train-frame-step", "1", "--val-frame-step", "1"])
    bench = Bench(args, tiny_h5)
    torch.manual_seed(0)
    cfg = ModelConfig(name="movnect", width=0.5)
    teacher_file = tmp_path / "teacher.pt"
    save_checkpoint(teacher_file, build_model(cfg).eval(), cfg, bench.codec)
    path = bench.build_teacher_cache(str(teacher_file), tmp_path / "cache.h5", include_feature=True)
    assert bench.build_teacher_cache(str(teacher_file), tmp_path / "cache.h5", include_feature=True) == path  # reused
    teacher = load_teacher(teacher_file, bench.student, bench.codec)
    plain = bench.train_set(False)
    cached = CachedTeacherDataset(plain, TeacherCache(path))
    batch = torch.utils.data.default_collate([cached[i] for i in range(len(plain))])
    assert bool((batch["teacher_cached"] > 0).all())
    got = teacher.outputs(batch, need_feature=True)  # every row cached: no forward
    live = teacher.model(batch["image"])
    assert torch.allclose(got.maps, live.maps, rtol=2e-3, atol=2e-3)  # stored float16
    assert torch.allclose(got.feature, live.feature, rtol=2e-3, atol=2e-3)


def test_decoded_dataset_equals_the_h5_samples(tiny_h5: Path, tmp_path: Path) -> None:
    from device_data import DecodedDataset, decode_split
    from movnect.codec import Codec, CodecConfig
    from movnect.data.dataset import H36MDataset
    from movnect.data.transforms import NO_AUGMENT

    codec = Codec(CodecConfig(input_size=64))
    path = decode_split(tiny_h5, codec, ("S8",), 1, tmp_path / "val.pt")
    assert decode_split(tiny_h5, codec, ("S8",), 1, tmp_path / "val.pt") == path  # reused
    ds, ref = DecodedDataset(path), H36MDataset(tiny_h5, codec, ("S8",), 1, NO_AUGMENT, seed=0)
    assert len(ds) == len(ref) and not ds.device_resident
    for i in (0, len(ds) - 1):
        a, b = ds[i], ref[i]
        for k, v in b.items():
            if isinstance(v, torch.Tensor):
                assert torch.equal(a[k], v), k
