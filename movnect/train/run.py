"""One training run from a config file: what `movnect train` calls.

resolve_experiment  config file (+ overrides), or the run config stored in a resume checkpoint
run_training        process group, seeded model, datasets, Trainer.fit, summary.json
claim_run_dir       the run folder's lock, and the refusal to overwrite a finished run
The run folder holds config.toml (the resolved config), checkpoints/ (last.pt, best.pt,
stage-<name>.pt), tb/ (TensorBoard), metrics.jsonl and summary.json.

Finished work is never replaced by accident: a folder holding an earlier run's checkpoints or
metrics is refused unless the run resumes (`resume`) or replaces it (`overwrite`, which first
deletes that run's files), and `.lock` in the folder keeps a second process out while one trains.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from movnect import atomic
from movnect.checkpoint import CheckpointError, read_checkpoint
from movnect.codec import Codec
from movnect.config import ConfigError, apply_overrides
from movnect.locks import FolderLock
from movnect.models import build_model
from movnect.train.config import ExperimentConfig, experiment_from_dict, load_experiment
from movnect.train.resume import read_training_checkpoint
from movnect.train.data import build_datasets, check_sources
from movnect.train.distributed import setup_distributed, teardown_distributed
from movnect.train.loop import StepReport, Trainer


def resolve_experiment(config: str | Path | None, overrides: list[str],
                       resume: str | Path | None) -> ExperimentConfig:
    """The run's config: from `config` when given, else from the resume checkpoint's run config."""
    if config is not None:
        return load_experiment(config, overrides)
    if resume is None:
        raise ConfigError("train needs --config (or --resume with a checkpoint of an earlier run)")
    stored = (read_checkpoint(resume).get("extra") or {}).get("run_config")
    if not stored:
        raise CheckpointError(f"checkpoint {resume} stores no run config; pass --config")
    return experiment_from_dict(apply_overrides(stored, overrides))


def default_run_dir(config: str | Path | None, resume: str | Path | None) -> Path:
    """runs/<config file stem>, or the run folder a resume checkpoint lives in."""
    if resume is not None:
        p = Path(resume).resolve()
        return p.parent.parent if p.parent.name == "checkpoints" else p.parent
    return Path("runs") / Path(str(config)).stem


RUN_FILES = ("config.toml", "distill.toml", "metrics.jsonl", "summary.json")


def earlier_run(run_dir: Path) -> list[str]:
    """Files of an earlier run in `run_dir` (checkpoints, metrics, summary), relative names."""
    found = sorted(str(p.relative_to(run_dir)) for p in (run_dir / "checkpoints").glob("*.pt"))
    return found + [n for n in ("metrics.jsonl", "summary.json") if (run_dir / n).is_file()]


def check_run_dir(run_dir: Path, resume: str | Path | None, overwrite: bool, option: str = "--out") -> None:
    """Refuse (FileExistsError) a folder holding an earlier run unless resuming or overwriting."""
    if resume is not None and overwrite:
        raise ValueError("--resume continues a run and --overwrite replaces it: give one of them")
    found = earlier_run(run_dir)
    if found and resume is None and not overwrite:
        shown = ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")
        raise FileExistsError(f"run folder {run_dir} holds an earlier run ({shown}); pass --resume "
                              f"{run_dir / 'checkpoints' / 'last.pt'} to continue it, --overwrite to replace it, "
                              f"or another {option}")


def claim_run_dir(run_dir: Path, resume: str | Path | None, overwrite: bool) -> FolderLock:
    """Lock `run_dir` (LockedError if another process trains there), check it again under the
    lock, and with `overwrite` delete the earlier run's files. Main process only."""
    lock = FolderLock(run_dir / ".lock", f"run folder {run_dir}")
    try:
        check_run_dir(run_dir, resume, overwrite)
        if overwrite:
            shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
            shutil.rmtree(run_dir / "tb", ignore_errors=True)
            for name in RUN_FILES:
                (run_dir / name).unlink(missing_ok=True)
    except BaseException:
        lock.release()
        raise
    return lock


def run_training(config: str | Path | None, overrides: list[str] | None = None,
                 resume: str | Path | None = None, out: str | Path | None = None,
                 on_step: Callable[[StepReport], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Train every stage of the experiment; returns the summary (also written to summary.json).

    A run folder holding an earlier run is refused unless `resume` or `overwrite` is given."""
    exp = resolve_experiment(config, overrides or [], resume)
    check_sources(exp, teacher="")
    run_dir = Path(out) if out is not None else default_run_dir(config, resume)
    check_run_dir(run_dir, resume, overwrite)  # every process, before any slow set-up
    if resume is not None:  # fail before the (slow) data set-up if the checkpoint cannot resume
        read_training_checkpoint(resume, exp.model)
    env = setup_distributed(exp.train.device)
    lock = claim_run_dir(run_dir, resume, overwrite) if env.is_main else None
    try:
        codec = Codec(exp.codec)
        train_sets, val_set = build_datasets(exp, codec)
        torch.manual_seed(exp.train.seed)  # identical initial weights on every process
        model = build_model(exp.model)
        trainer = Trainer(model, exp.model, codec, exp, run_dir, env)
        summary = trainer.fit(train_sets, val_set, resume=resume, on_step=on_step, should_stop=should_stop)
        summary["world_size"] = env.world_size
        if env.is_main:
            atomic.write_json(run_dir / "summary.json", summary, indent=2)
        trainer.logger.close()
        return summary
    finally:
        if lock is not None:
            lock.release()
        teardown_distributed()
