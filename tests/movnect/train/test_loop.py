"""Training loop on an in-memory toy dataset: exact resume at a stage boundary, NaN guard,
host syncs only at sync points, model-config check, DDP replicas over gloo (learning on real
data: test_run.py)."""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from movnect.codec import Codec, CodecConfig
from movnect.models import ModelConfig, build_model
from movnect.train import resume as ck
from movnect.train.config import ExperimentConfig, OptimizerConfig, ScheduleConfig, StageConfig, TrainConfig
from movnect.train.distributed import DistEnv, setup_distributed, teardown_distributed
from movnect.train.loop import NonFiniteLossError, Trainer
from movnect.train.losses import LossTerms
from tests.movnect.train.syncs import MarkingTrainer, counted
from tests.movnect.train.toy_data import ToyPoseDataset

CPU = DistEnv(0, 1, 0, torch.device("cpu"))
CODEC = Codec(CodecConfig(input_size=64))


def _exp(epochs2d: int = 1, epochs3d: int = 2, steps: int = 0, batch: int = 4, **train: object) -> ExperimentConfig:
    opt = OptimizerConfig(lr=3e-3)
    return ExperimentConfig(
        model=ModelConfig(name="movnect", width=0.35), codec=CODEC.config,
        train=TrainConfig(**{"workers": 0, "log_every": 2, "ckpt_every": 0, "val_batch_size": 8,
                             "image_panels": 1, **train}),
        stages=(
            StageConfig(name="pre2d", kind="2d", sources=("coco",), epochs=epochs2d, batch_size=batch,
                        steps_per_epoch=steps, optimizer=opt),
            StageConfig(name="main3d", kind="3d", epochs=epochs3d, batch_size=batch, steps_per_epoch=steps,
                        optimizer=opt, schedule=ScheduleConfig(warmup_steps=2)),
        ),
    )


def _sets(n: int = 16) -> list[ToyPoseDataset]:
    return [ToyPoseDataset(n, CODEC, seed=5, has3d=False, augment=True), ToyPoseDataset(n, CODEC, augment=True)]


def _trainer(exp: ExperimentConfig, run_dir: Path, init_seed: int = 0, env: DistEnv = CPU) -> Trainer:
    torch.manual_seed(init_seed)
    return Trainer(build_model(exp.model), exp.model, CODEC, exp, run_dir, env)


@pytest.mark.parametrize("stop_after, workers", [(4, 2)])
def test_resume_reproduces_uninterrupted_run(tmp_path: Path, stop_after: int, workers: int) -> None:
    """Stop exactly at the 2D -> 3D stage boundary (a stop inside an epoch, on the real Dataset,
    is tests/movnect/train/test_run.py). The resumed half uses two worker processes: per-sample
    seeds make the batches identical."""
    exp = _exp(epochs2d=1, epochs3d=2, steps=0, batch=4)  # 16 samples / 4 = 4 steps per epoch
    full = _trainer(exp, tmp_path / "full")
    full.fit(_sets(), ToyPoseDataset(8, CODEC, seed=1))
    assert full.step == 12

    part = _trainer(exp, tmp_path / "part")
    count = {"n": 0}

    def stop() -> bool:
        count["n"] += 1
        return part.step >= stop_after

    summary = part.fit(_sets(), ToyPoseDataset(8, CODEC, seed=1), should_stop=stop)
    assert summary["stopped"] and summary["steps"] == stop_after
    last = tmp_path / "part" / "checkpoints" / "last.pt"
    raw = torch.load(last, weights_only=False)
    assert ck.Position(**raw["extra"]["position"]) == (
        ck.Position(1, 0, 0, 4) if stop_after == 4 else ck.Position(1, 0, 1, 5))

    exp2 = _exp(epochs2d=1, epochs3d=2, steps=0, batch=4, workers=workers)
    resumed = _trainer(exp2, tmp_path / "part", init_seed=123)  # different init: weights must load
    resumed.fit(_sets(), ToyPoseDataset(8, CODEC, seed=1), resume=last)
    assert resumed.step == 12
    a, b = full.model.state_dict(), resumed.model.state_dict()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-6, msg=k)
    fa = torch.load(tmp_path / "full" / "checkpoints" / "last.pt", weights_only=False)["extra"]
    fb = torch.load(last, weights_only=False)["extra"]
    assert fa["scheduler"]["_last_lr"] == fb["scheduler"]["_last_lr"]


class _NaNAt(Trainer):
    def compute_loss(self, batch: dict[str, torch.Tensor]) -> LossTerms:
        terms = super().compute_loss(batch)
        if self.step == 5:  # the 6th step
            terms = LossTerms(terms.total * float("nan"), {**terms.parts, "total": terms.total * float("nan")})
        return terms


def test_nan_loss_stops_with_one_line_and_keeps_last_good_checkpoint(tmp_path: Path) -> None:
    exp = _exp(epochs2d=1, epochs3d=2, batch=4, ckpt_every=2)
    torch.manual_seed(0)
    tr = _NaNAt(build_model(exp.model), exp.model, CODEC, exp, tmp_path, CPU)
    with pytest.raises(NonFiniteLossError) as info:
        tr.fit(_sets(), None)
    msg = str(info.value)
    assert "\n" not in msg and "not finite" in msg and "main3d" in msg and "last.pt" in msg
    raw = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=False)
    assert raw["extra"]["position"]["step"] == 4  # written after step 4, not touched since
    assert all(torch.isfinite(v).all() for v in raw["model"].values() if v.is_floating_point())


class _NaNAtStep5(Trainer):
    def compute_loss(self, batch: dict[str, torch.Tensor]) -> LossTerms:
        terms = super().compute_loss(batch)
        if self.step == 4:  # the 5th step, between two sync points
            terms = LossTerms(terms.total * float("nan"), {**terms.parts, "total": terms.total * float("nan")})
        return terms


def test_nan_between_sync_points_is_caught_at_the_next_one_before_any_write(tmp_path: Path) -> None:
    """Steps do not wait for the NaN guard: a NaN at step 5 is found at the log interval of
    step 8, named as step 5, and nothing from steps 5-8 is logged or saved."""
    exp = _exp(epochs2d=1, epochs3d=2, batch=4, log_every=4, ckpt_every=0)
    torch.manual_seed(0)
    tr = _NaNAtStep5(build_model(exp.model), exp.model, CODEC, exp, tmp_path, CPU)
    seen: list[int] = []
    with pytest.raises(NonFiniteLossError) as info:
        tr.fit(_sets(), None, on_step=lambda r: seen.append(r.step))
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("loss is not finite at stage 'main3d' epoch 0 batch 0 (step 5; ")
    assert "noticed at step 8" in msg and str(tmp_path / "checkpoints" / "last.pt") in msg
    assert seen == [1, 2, 3, 4, 5, 6, 7]  # step 8's report never came: it raised at its log interval
    raw = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=False)
    assert raw["extra"]["position"]["step"] == 4  # the 2D stage's end, before the NaN
    assert all(torch.isfinite(v).all() for v in raw["model"].values() if v.is_floating_point())
    logged = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert logged == [4]


class _InfGradientAtStep3(Trainer):
    def compute_loss(self, batch: dict[str, torch.Tensor]) -> LossTerms:
        terms = super().compute_loss(batch)
        if self.step == 2:  # + sqrt(w - w): adds 0 to the loss, an infinite gradient to w
            w = next(self.model.parameters()).flatten()[0]
            total = terms.total + torch.sqrt(w - w.detach())
            terms = LossTerms(total, {**terms.parts, "total": total.detach()})
        return terms


def test_non_finite_gradient_norm_is_named_at_the_next_sync_point(tmp_path: Path) -> None:
    exp = _exp(epochs2d=1, epochs3d=1, batch=4, log_every=2, grad_clip=1.0)
    torch.manual_seed(0)
    tr = _InfGradientAtStep3(build_model(exp.model), exp.model, CODEC, exp, tmp_path, CPU)
    with pytest.raises(NonFiniteLossError, match=r"^gradient norm is not finite at stage 'pre2d' epoch 0 "
                                                 r"batch 2 \(step 3; .*noticed at step 4\); run stopped, "
                                                 r"no checkpoint was written yet$"):
        tr.fit(_sets(), None)


def test_steps_between_sync_points_make_no_host_sync(tmp_path: Path) -> None:
    """Every host read (.item(), float(), bool(), .tolist(), ...) and collective the project's
    code makes, counted per step on CPU: only the steps that end a log interval (4, 8, 12), write
    a checkpoint (3, 9: ckpt_every) or end an epoch (6, 12) have any; should_stop, gradient
    clipping and the per-step report cost none."""
    exp = ExperimentConfig(
        model=ModelConfig(name="movnect", width=0.35), codec=CODEC.config,
        train=TrainConfig(workers=0, log_every=4, ckpt_every=3, grad_clip=1.0, image_panels=0),
        stages=(StageConfig(name="main3d", kind="3d", epochs=2, batch_size=4, optimizer=OptimizerConfig(lr=1e-3),
                            schedule=ScheduleConfig(warmup_steps=2)),),
    )
    reports = []
    with counted() as calls:
        torch.manual_seed(0)
        tr = MarkingTrainer(build_model(exp.model), exp.model, CODEC, exp, tmp_path, CPU, calls=calls)
        tr.fit([ToyPoseDataset(24, CODEC, augment=True)], None, on_step=reports.append, should_stop=lambda: False)
    per_step = tr.per_step()
    assert sorted(per_step) == list(range(1, 13))
    quiet = {step: found for step, found in per_step.items() if step not in (3, 4, 6, 8, 9, 12)}
    assert quiet == {step: [] for step in (1, 2, 5, 7, 10, 11)}
    assert all(per_step[step] for step in (3, 4, 6, 8, 9, 12))  # the counter does see the sync points
    assert [r.step for r in reports if r.synced] == [4, 8, 12]
    assert all(r.total.ndim == 0 and isinstance(r.loss, float) for r in reports)


def test_resume_rejects_checkpoint_of_another_model(tmp_path: Path) -> None:
    exp = _exp(epochs2d=1, epochs3d=1, steps=1)
    _trainer(exp, tmp_path).fit(_sets(), None)
    other = ExperimentConfig(model=ModelConfig(name="movnect", width=0.5), codec=exp.codec,
                             train=exp.train, stages=exp.stages)
    with pytest.raises(ValueError, match=r"does not match the model config \(width: checkpoint 0.35 vs config 0.5\)"):
        _trainer(other, tmp_path / "b").fit(_sets(), None, resume=tmp_path / "checkpoints" / "last.pt")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, port: int, run_dir: str, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    env = setup_distributed("cpu")
    try:
        exp = _exp(epochs2d=1, epochs3d=2, batch=4)
        with counted(host_reads=False) as calls:
            torch.manual_seed(rank)  # different initial weights: DDP broadcasts rank 0's
            tr = MarkingTrainer(build_model(exp.model), exp.model, CODEC, exp, Path(run_dir), env, calls=calls)
            summary = tr.fit(_sets(), ToyPoseDataset(10, CODEC, seed=1), should_stop=lambda: False)
        collectives = {step: len(found) for step, found in tr.per_step().items()}
        torch.save({"state": tr.model.state_dict(), "summary": summary, "collectives": collectives},
                   f"{out}/rank{rank}.pt")
    finally:
        teardown_distributed()


@pytest.mark.slow
def test_two_process_gloo_run(tmp_path: Path) -> None:
    mp.spawn(_ddp_worker, args=(_free_port(), str(tmp_path / "run"), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=False)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=False)
    assert r0["summary"]["steps"] == 6  # 16 samples / 2 processes / batch 4 = 2 steps per epoch
    for k, v in r0["state"].items():  # replicas stay identical
        torch.testing.assert_close(r1["state"][k], v, rtol=0, atol=0, msg=k)
    h0, h1 = r0["summary"]["history"], r1["summary"]["history"]
    assert h0 == h1 and h0[-1]["val/samples"] == 10  # shards summed over both processes
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=False)
    assert ckpt["extra"]["world_size"] == 2
    # the loop's own collectives (NaN guard, stop request, buffers, RNG, validation): none inside
    # an epoch's first step (2 steps per epoch, log_every 2), some at every log interval / epoch end
    for r in (r0, r1):
        assert [r["collectives"][s] > 0 for s in range(1, 7)] == [False, True] * 3
