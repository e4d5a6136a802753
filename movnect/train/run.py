"""One training run from a config file: what `movnect train` calls.

resolve_experiment  config file (+ overrides), or the run config stored in a resume checkpoint
run_training        process group, seeded model, datasets, Trainer.fit, summary.json
The run folder holds config.toml (the resolved config), checkpoints/ (last.pt, best.pt,
stage-<name>.pt), tb/ (TensorBoard), metrics.jsonl and summary.json.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from movnect.checkpoint import CheckpointError, read_checkpoint
from movnect.codec import Codec
from movnect.config import ConfigError, apply_overrides
from movnect.models import build_model
from movnect.train.config import ExperimentConfig, experiment_from_dict, load_experiment
from movnect.train.checkpoints import read_training_checkpoint
from movnect.train.data import build_datasets
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


def run_training(config: str | Path | None, overrides: list[str] | None = None,
                 resume: str | Path | None = None, out: str | Path | None = None,
                 on_step: Callable[[StepReport], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Train every stage of the experiment; returns the summary (also written to summary.json)."""
    exp = resolve_experiment(config, overrides or [], resume)
    run_dir = Path(out) if out is not None else default_run_dir(config, resume)
    if resume is not None:  # fail before the (slow) data set-up if the checkpoint cannot resume
        read_training_checkpoint(resume, exp.model)
    env = setup_distributed(exp.train.device)
    try:
        codec = Codec(exp.codec)
        train_sets, val_set = build_datasets(exp, codec)
        torch.manual_seed(exp.train.seed)  # identical initial weights on every process
        model = build_model(exp.model)
        trainer = Trainer(model, exp.model, codec, exp, run_dir, env)
        summary = trainer.fit(train_sets, val_set, resume=resume, on_step=on_step, should_stop=should_stop)
        summary["world_size"] = env.world_size
        if env.is_main:
            (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        trainer.logger.close()
        return summary
    finally:
        teardown_distributed()
