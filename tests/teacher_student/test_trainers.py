"""Distillation trainers on the training loop: the loss falls for every method, the teacher stays
frozen, DWPose's stage 2 keeps the backbone and yields a normal checkpoint, OKDHP's checkpoints
are its best branch, mismatched teachers are refused, stage 2 resumes exactly."""
from __future__ import annotations

import math
import os
import socket
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from movnect.checkpoint import load_model, read_checkpoint, save_checkpoint
from movnect.codec import Codec, CodecConfig
from movnect.models import ModelConfig, build_model
from movnect.train.config import ExperimentConfig, OptimizerConfig, StageConfig, TrainConfig
from movnect.train.distributed import DistEnv, setup_distributed, teardown_distributed
from teacher_student.config import DWPoseConfig, MimicryConfig, OKDHPConfig
from teacher_student.okdhp import MultiBranchMoVNect, extract_branch
from teacher_student.trainers import (
    DWPoseTrainer,
    MimicryTrainer,
    OKDHPTrainer,
    TeacherMismatchError,
    load_teacher,
)
from tests.teacher_student.toy_data import ToyPoseDataset

CPU = DistEnv(0, 1, 0, torch.device("cpu"))
CODEC = Codec(CodecConfig(input_size=64))
STUDENT = ModelConfig(name="movnect", width=0.25)
TEACHER = ModelConfig(name="movnect", width=0.5)  # a tiny stand-in teacher: fast on CPU


def _exp(*stages: StageConfig) -> ExperimentConfig:
    return ExperimentConfig(model=STUDENT, codec=CODEC.config, stages=stages,
                            train=TrainConfig(workers=0, log_every=5, ckpt_every=0, val_batch_size=8,
                                              image_panels=0, grad_clip=0.0, val_max_samples=8))


def _stage(name: str, epochs: int = 2, steps: int = 8, kind: str = "3d", lr: float = 3e-3) -> StageConfig:
    return StageConfig(name=name, kind=kind, epochs=epochs, steps_per_epoch=steps, batch_size=4,
                       optimizer=OptimizerConfig(lr=lr))


@pytest.fixture(scope="module")
def teacher_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("teacher") / "teacher.pt"
    save_checkpoint(path, build_model(TEACHER), TEACHER, CODEC)
    return path


def _student() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(STUDENT)


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def test_teacher_with_other_joints_or_codec_is_refused(tmp_path: Path) -> None:
    cfg16 = replace(TEACHER, num_joints=16)
    save_checkpoint(tmp_path / "j16.pt", build_model(cfg16), cfg16, Codec(CodecConfig(input_size=64, num_joints=16)))
    with pytest.raises(TeacherMismatchError, match="predicts 16 joints, the student 17"):
        load_teacher(tmp_path / "j16.pt", STUDENT, CODEC)
    save_checkpoint(tmp_path / "sigma.pt", build_model(TEACHER), TEACHER, Codec(CodecConfig(input_size=64, sigma=2.0)))
    with pytest.raises(TeacherMismatchError, match=r"another codec .*sigma 2.0 vs 1.0"):
        load_teacher(tmp_path / "sigma.pt", STUDENT, CODEC)


def test_frozen_teacher_uses_cached_rows(teacher_path: Path) -> None:
    teacher = load_teacher(teacher_path, STUDENT, CODEC)
    assert not teacher.model.training and not any(p.requires_grad for p in teacher.model.parameters())
    batch = {"image": torch.randn(2, 3, 64, 64)}
    live = teacher.outputs(batch, need_feature=True)
    assert not live.maps.requires_grad and live.feature is not None
    cached = torch.full((2, 68, 8, 8), 0.25)
    mixed = teacher.outputs({**batch, "teacher_maps": cached, "teacher_cached": torch.tensor([1.0, 0.0])}, False)
    assert torch.equal(mixed.maps[0], cached[0])  # the live row ran alone: equal up to rounding
    torch.testing.assert_close(mixed.maps[1], live.maps[1], atol=1e-5, rtol=1e-4)
    hit = teacher.outputs({**batch, "teacher_maps": cached, "teacher_cached": torch.ones(2)}, False)
    assert torch.equal(hit.maps, cached)


class _CountingTeacher(torch.nn.Module):
    """A teacher network that records how many rows each forward receives."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model, self.rows = model, []

    def forward(self, x: torch.Tensor):  # noqa: ANN201
        self.rows.append(len(x))
        return self.model(x)


@pytest.mark.parametrize("need_feature", [False, True])
def test_live_teacher_runs_only_on_uncached_rows(teacher_path: Path, need_feature: bool) -> None:
    base = load_teacher(teacher_path, STUDENT, CODEC)
    counting = _CountingTeacher(base.model)
    teacher = type(base)(counting, base.config, base.path)
    images = torch.randn(5, 3, 64, 64)
    live = base.model(images)
    cached = torch.full((5, 68, 8, 8), 0.25)
    feats = torch.full((5, *live.feature.shape[1:]), -0.5)
    flags = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0])
    batch = {"image": images, "teacher_maps": cached, "teacher_feature": feats, "teacher_cached": flags}
    out = teacher.outputs(batch, need_feature)
    assert counting.rows == [2]  # the two uncached rows only, not the whole batch
    for i in range(5):
        if flags[i] > 0:
            assert torch.equal(out.maps[i], cached[i])
            assert not need_feature or torch.equal(out.feature[i], feats[i])
        else:
            torch.testing.assert_close(out.maps[i], live.maps[i], atol=1e-5, rtol=1e-4)
            assert not need_feature or torch.allclose(out.feature[i], live.feature[i], atol=1e-5, rtol=1e-4)
    assert (out.feature is None) == (not need_feature)
    counting.rows.clear()
    teacher.outputs({**batch, "teacher_cached": torch.ones(5)}, need_feature)
    assert counting.rows == []  # all cached: no forward at all
    teacher.outputs({k: v for k, v in batch.items() if k != "teacher_feature"}, True)
    assert counting.rows == [5]  # the cache has no features but they are needed: every row live


def test_mimicry_loss_falls_on_2d_only_data_too(tmp_path: Path, teacher_path: Path) -> None:
    exp = _exp(_stage("pre2d", epochs=1, steps=6, kind="2d"), _stage("main", epochs=3))
    teacher = load_teacher(teacher_path, STUDENT, CODEC)
    before = {k: v.clone() for k, v in teacher.model.state_dict().items()}
    tr = MimicryTrainer(_student(), STUDENT, CODEC, exp, tmp_path, CPU, teacher, MimicryConfig(alpha=0.5))
    losses: list[float] = []
    sets = [ToyPoseDataset(24, CODEC, seed=3, has3d=False), ToyPoseDataset(48, CODEC, unlabelled=(16,))]
    summary = tr.fit(sets, ToyPoseDataset(8, CODEC, seed=9), on_step=lambda r: losses.append(r.loss))
    main = losses[6:]
    assert _mean(main[-6:]) < 0.7 * _mean(main[:6]), main
    assert all(torch.equal(v, teacher.model.state_dict()[k]) for k, v in before.items())  # frozen
    model, cfg, _, _ = load_model(summary["checkpoint"])
    assert cfg == STUDENT and "val/mpjpe" in summary["metrics"]


def test_dwpose_two_stages_keep_the_backbone_and_write_a_normal_checkpoint(tmp_path: Path, teacher_path: Path) -> None:
    exp = _exp(_stage("distill", epochs=3), _stage("head", epochs=1, steps=8))
    teacher = load_teacher(teacher_path, STUDENT, CODEC)
    tr = DWPoseTrainer(_student(), STUDENT, CODEC, exp, tmp_path, CPU, teacher, DWPoseConfig(self_kd_stage="head"))
    losses: list[float] = []
    summary = tr.fit([ToyPoseDataset(48, CODEC)] * 2, ToyPoseDataset(8, CODEC, seed=9),
                     on_step=lambda r: losses.append(r.loss))
    stage1 = losses[:24]
    assert _mean(stage1[-6:]) < 0.7 * _mean(stage1[:6]), stage1
    stage2 = losses[24:]
    assert _mean(stage2[-3:]) < _mean(stage2[:3]), stage2
    s1 = read_checkpoint(tmp_path / "checkpoints" / "stage-distill.pt")["model"]
    final, cfg, _, raw = load_model(summary["checkpoint"])
    assert cfg == STUDENT
    head = ("block14_features", "block14_bones", "head")
    for k, v in final.state_dict().items():
        if k.split(".")[0] not in head:
            assert torch.equal(v, s1[k]), k  # weights and BatchNorm statistics untouched
    assert not torch.equal(final.state_dict()["head.2.weight"], s1["head.2.weight"])
    assert "stage1_model" in raw["extra"]["trainer"] and "projector" in raw["extra"]["trainer"]


def test_dwpose_stage2_resumes_exactly(tmp_path: Path, teacher_path: Path) -> None:
    exp = _exp(_stage("distill", epochs=1, steps=4), _stage("head", epochs=2, steps=4))
    sets, val = [ToyPoseDataset(16, CODEC)] * 2, ToyPoseDataset(4, CODEC, seed=9)

    def trainer(run: Path) -> DWPoseTrainer:
        return DWPoseTrainer(_student(), STUDENT, CODEC, exp, run, CPU, load_teacher(teacher_path, STUDENT, CODEC),
                             DWPoseConfig(self_kd_stage="head"))

    full = trainer(tmp_path / "full").fit(sets, val)
    steps = []
    part = trainer(tmp_path / "part").fit(sets, val, on_step=lambda r: steps.append(r.step),
                                          should_stop=lambda: len(steps) >= 6)
    assert part["stopped"]
    resumed = trainer(tmp_path / "part").fit(sets, val, resume=tmp_path / "part" / "checkpoints" / "last.pt")
    a, b = read_checkpoint(full["checkpoint"])["model"], read_checkpoint(resumed["checkpoint"])["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_dwpose_decay_spans_every_stage1_stage(tmp_path: Path, teacher_path: Path) -> None:
    exp = _exp(_stage("pre2d", epochs=2, steps=2, kind="2d"), _stage("main", epochs=3, steps=2),
               _stage("head", epochs=1, steps=2))
    decays: list[float] = []

    class Recording(DWPoseTrainer):
        def compute_loss(self, batch):  # noqa: ANN001, ANN201
            terms = super().compute_loss(batch)
            if "kd_decay" in terms.parts:
                decays.append(round(float(terms.parts["kd_decay"]), 6))
            return terms

    tr = Recording(_student(), STUDENT, CODEC, exp, tmp_path, CPU, load_teacher(teacher_path, STUDENT, CODEC),
                   DWPoseConfig(self_kd_stage="head"))
    tr.fit([ToyPoseDataset(8, CODEC, has3d=False), ToyPoseDataset(8, CODEC), ToyPoseDataset(8, CODEC)])
    # r(t) = 1 - (t - 1) / 5 over the 5 stage-1 epochs (2 of pre2d + 3 of main), 2 steps each;
    # it does not restart at "main" (which would read 1, 0.667, 0.333)
    assert decays == [v for v in (1.0, 0.8, 0.6, 0.4, 0.2) for _ in range(2)]


@pytest.mark.parametrize("divergence", ["mse", "kl"])
def test_okdhp_loss_falls_and_checkpoints_hold_the_best_branch(tmp_path: Path, divergence: str) -> None:
    exp = _exp(_stage("main", epochs=3, lr=1e-2))
    torch.manual_seed(0)
    net = MultiBranchMoVNect(17, width=0.25, branches=3, fau_hidden=8)
    tr = OKDHPTrainer(net, STUDENT, CODEC, exp, tmp_path, CPU, OKDHPConfig(divergence=divergence, ramp_fraction=0.5))
    losses: list[float] = []
    summary = tr.fit([ToyPoseDataset(48, CODEC)], ToyPoseDataset(8, CODEC, seed=9),
                     on_step=lambda r: losses.append(r.loss))
    assert _mean(losses[-6:]) < 0.7 * _mean(losses[:6]), losses
    model, cfg, _, raw = load_model(summary["checkpoint"])
    best = raw["extra"]["trainer"]["best_branch"]
    x = torch.stack([ToyPoseDataset(2, CODEC, seed=5)[i]["image"] for i in range(2)])
    net.eval()
    assert torch.equal(model(x).maps, extract_branch(net, best)(x).maps)
    assert torch.equal(model(x).maps, net(x).branches[best].maps)
    logged = (tmp_path / "metrics.jsonl").read_text()
    assert "val/mpjpe_ensemble" in logged and "val/mpjpe_branch2" in logged


class _RampRecordingOKDHP(OKDHPTrainer):
    """Records the kd_ramp weight of every step."""

    ramps: list[float]

    def compute_loss(self, batch):  # noqa: ANN001, ANN201
        terms = super().compute_loss(batch)
        self.ramps.append(float(terms.parts["kd_ramp"]))
        return terms


def _okdhp_two_stages(run: Path) -> _RampRecordingOKDHP:
    exp = _exp(_stage("first", epochs=1, steps=4), _stage("second", epochs=2, steps=4))
    torch.manual_seed(0)
    net = MultiBranchMoVNect(17, width=0.25, branches=2, fau_hidden=8)
    tr = _RampRecordingOKDHP(net, STUDENT, CODEC, exp, run, CPU, OKDHPConfig(branches=2, ramp_fraction=0.5))
    tr.ramps = []
    return tr


def test_okdhp_ramp_restarts_at_each_stage_and_resumes_exactly(tmp_path: Path) -> None:
    from teacher_student.schedules import okdhp_ramp

    sets, val = [ToyPoseDataset(16, CODEC)] * 2, ToyPoseDataset(4, CODEC, seed=9)
    full = _okdhp_two_stages(tmp_path / "full")
    full.fit(sets, val)
    # stage "first": 4 steps, 1 epoch, ramp over 0.5 epoch; stage "second": 8 steps, 2 epochs, ramp over 1
    # progress = fraction of the stage done when the step starts (0 on a stage's first step)
    expected = [okdhp_ramp(k / 4, 0.5) for k in range(4)] + [okdhp_ramp(2 * k / 8, 1.0) for k in range(8)]
    assert full.ramps == pytest.approx(expected, rel=1e-6)  # logged as float32
    assert full.ramps[4] == pytest.approx(math.exp(-5), rel=1e-6)  # first step of stage 2: ~0.0067, not 1.0
    part = _okdhp_two_stages(tmp_path / "part")
    part.fit(sets, val, should_stop=lambda: len(part.ramps) >= 6)  # stops mid-ramp, inside stage 2
    assert len(part.ramps) == 6 and part.ramps[-1] < 1.0
    resumed = _okdhp_two_stages(tmp_path / "part")
    resumed.fit(sets, val, resume=tmp_path / "part" / "checkpoints" / "last.pt")
    assert part.ramps + resumed.ramps == full.ramps
    a, b = full.net.state_dict(), resumed.net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # the whole multi-branch net, bit for bit


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, port: int, teacher: str, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    env = setup_distributed("cpu")
    try:
        sets, val = [ToyPoseDataset(16, CODEC)] * 2, ToyPoseDataset(6, CODEC, seed=9)
        exp = _exp(_stage("distill", epochs=1, steps=2), _stage("head", epochs=1, steps=2))
        torch.manual_seed(rank)  # DDP broadcasts rank 0's weights
        dwp = DWPoseTrainer(build_model(STUDENT), STUDENT, CODEC, exp, Path(out) / "dw", env,
                            load_teacher(teacher, STUDENT, CODEC), DWPoseConfig(self_kd_stage="head"))
        dwp.fit(sets, val)
        torch.manual_seed(rank)
        net = MultiBranchMoVNect(17, width=0.25, branches=2, fau_hidden=8)
        okd = OKDHPTrainer(net, STUDENT, CODEC, _exp(_stage("main", epochs=1, steps=2)), Path(out) / "okd", env,
                           OKDHPConfig(branches=2))
        okd.fit(sets[:1], val)
        torch.save({"dw": dwp.model.state_dict(), "okd": net.state_dict()}, f"{out}/rank{rank}.pt")
    finally:
        teardown_distributed()


@pytest.mark.slow
def test_two_process_gloo_runs_keep_replicas_identical(tmp_path: Path, teacher_path: Path) -> None:
    mp.spawn(_ddp_worker, args=(_free_port(), str(teacher_path), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=False)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=False)
    for part in ("dw", "okd"):
        for k, v in r0[part].items():
            torch.testing.assert_close(r1[part][k], v, rtol=0, atol=0, msg=f"{part} {k}")
    assert load_model(tmp_path / "dw" / "checkpoints" / "last.pt")[1] == STUDENT
