"""One distillation run from a config: the library side of `movnect distill`.

    exp, distill = load_distill_experiment("configs/distill_mimicry.toml", ["train.seed=1"])
    summary = run_distillation(exp, distill, "runs/mimicry", train_sets, val_set, env)

`build_distill_trainer` makes the trainer of the configured method (the model initialised under
the run seed, the teacher loaded, checked against the student and frozen); `attach_cache`
wraps the training sets with the teacher cache when one is configured and allowed;
`write_student` turns the run's best (or last) checkpoint into a plain student checkpoint
`student.pt` (weights, model config, codec, and a note of how it was made; no training state),
which is what evaluation, prediction and export read. DWPose with a stage 2 keeps both
candidates (`student-stage1.pt`, `student-stage2.pt`) and exports the one that validates better
(`write_dwpose_students`; the summary's `dwpose_export` says which and why).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from movnect import atomic
from movnect.checkpoint import load_model, save_checkpoint
from movnect.codec import Codec
from movnect.models import build_model
from movnect.train.distributed import DistEnv
from movnect.train.loop import StepReport, Trainer
from teacher_student.cache import CachedTeacherDataset, CacheError, TeacherCache
from teacher_student.config import DistillConfig, distill_to_dict, load_distill_experiment
from teacher_student.okdhp import MultiBranchMoVNect
from teacher_student.trainers import DWPoseTrainer, FrozenTeacher, MimicryTrainer, OKDHPTrainer, load_teacher


def build_distill_trainer(exp: Any, distill: DistillConfig, run_dir: str | Path, env: DistEnv,
                          teacher: FrozenTeacher | None = None) -> Trainer:
    """The trainer of `distill.method`, its student initialised under exp.train.seed."""
    codec = Codec(exp.codec)
    torch.manual_seed(exp.train.seed)
    if distill.method == "okdhp":
        o = distill.okdhp
        net = MultiBranchMoVNect(exp.model.num_joints, exp.model.width, o.branches, o.fau_hidden)
        return OKDHPTrainer(net, exp.model, codec, exp, run_dir, env, o)
    student = build_model(exp.model)
    teacher = teacher or load_teacher(distill.teacher, exp.model, codec)
    if distill.method == "mimicry":
        return MimicryTrainer(student, exp.model, codec, exp, run_dir, env, teacher, distill.mimicry)
    if distill.method == "dwpose":
        return DWPoseTrainer(student, exp.model, codec, exp, run_dir, env, teacher, distill.dwpose)
    raise ValueError(f"unknown distillation method {distill.method!r}")


def attach_cache(train_sets: Sequence[Dataset], distill: DistillConfig, codec: Codec,
                 augmented: bool, data_file: str | Path) -> list[Dataset]:
    """Wrap every training set with the teacher cache of `distill.cache` (none: unchanged).

    Refused (CacheError) when the training samples are augmented: the cache holds the
    teacher's outputs on un-augmented crops (see teacher_student.cache); and when `data_file`
    (the HDF5 file whose rows the samples' `index` refers to, data.h36m) is not the file the
    cache was built on.
    """
    if not distill.cache:
        return list(train_sets)
    if not data_file:
        raise CacheError("distill.cache is set but data.h36m is empty: the cache's rows are rows of that file")
    if augmented:
        raise CacheError("distill.cache holds teacher outputs of un-augmented crops, but the training data "
                         "are augmented; turn augmentation off or leave distill.cache empty (live teacher)")
    cache = TeacherCache(distill.cache)
    cache.check_matches(distill.teacher, codec, need_feature=distill.method == "dwpose" and distill.dwpose.feature_weight > 0,
                        data_file=data_file)
    return [CachedTeacherDataset(d, cache) for d in train_sets]


def write_student(run_dir: str | Path, distill: DistillConfig, name: str = "student.pt",
                  source: str | Path | None = None, choice: dict[str, Any] | None = None) -> Path:
    """A checkpoint of a finished run -> checkpoints/<name>, a plain student checkpoint.

    `source` defaults to checkpoints/best.pt (else last.pt). For OKDHP it is the branch with
    the best validation score. `choice` (DWPose's stage-1 / stage-2 pick) is recorded in the note.
    """
    ckpt_dir = Path(run_dir) / "checkpoints"
    if source is None:
        source = ckpt_dir / "best.pt" if (ckpt_dir / "best.pt").is_file() else ckpt_dir / "last.pt"
    model, cfg, codec, raw = load_model(source)
    note: dict[str, Any] = {"kind": "distilled-student", "method": distill.method, "source": str(source),
                            "metrics": raw["extra"].get("metrics", {})}
    trainer_state = raw["extra"].get("trainer") or {}
    if distill.method == "okdhp":
        note["branch"] = trainer_state.get("best_branch")
        note["branches"] = trainer_state.get("branches")
    if choice is not None:
        note["dwpose_export"] = choice
    out = ckpt_dir / name
    save_checkpoint(out, model, cfg, codec, note)
    return out


def _stage_candidate(ckpt_dir: Path, stage: str, stage_best: dict[str, Any]) -> dict[str, Any]:
    """A stage's export candidate: its best validation checkpoint, else its last one."""
    best = stage_best.get(stage)
    path = ckpt_dir / f"best-{stage}.pt"
    if best is not None and path.is_file():
        return {"stage": stage, "source": str(path), "val_name": best["name"], "val_value": best["value"],
                "step": best["step"]}
    return {"stage": stage, "source": str(ckpt_dir / f"stage-{stage}.pt"), "val_name": None, "val_value": None,
            "step": None}


def write_dwpose_students(run_dir: str | Path, exp: Any, distill: DistillConfig,
                          stage_best: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """DWPose with a stage 2: student-stage1.pt (the best validation checkpoint of the last
    stage-1 stage), student-stage2.pt (that of the self-KD stage), and student.pt = the one with
    the lower validation figure (ties: stage 1). Without comparable validation figures (none,
    or different figures) stage 2, the configured pipeline's end, is exported and the rule says so.

    Returns (student.pt, the choice: {chosen, rule, stage1, stage2}).
    """
    ckpt_dir = Path(run_dir) / "checkpoints"
    names = [s.name for s in exp.stages]
    s2 = distill.dwpose.self_kd_stage
    s1 = names[names.index(s2) - 1]
    cands = {"stage1": _stage_candidate(ckpt_dir, s1, stage_best), "stage2": _stage_candidate(ckpt_dir, s2, stage_best)}
    for key, c in cands.items():
        c["file"] = str(write_student(run_dir, distill, f"student-{key}.pt", c["source"]))
    a, b = cands["stage1"], cands["stage2"]
    if a["val_value"] is not None and b["val_value"] is not None and a["val_name"] == b["val_name"]:
        chosen = "stage1" if a["val_value"] <= b["val_value"] else "stage2"
        rule = f"lower validation {a['val_name']} (ties: stage 1)"
    else:
        chosen, rule = "stage2", "no comparable validation figures: the last stage"
    choice = {"chosen": chosen, "rule": rule, **cands}
    out = write_student(run_dir, distill, "student.pt", cands[chosen]["source"], choice)
    return out, choice


def run_distillation(exp: Any, distill: DistillConfig, run_dir: str | Path, train_sets: Sequence[Dataset],
                     val_set: Dataset | None, env: DistEnv, *, augmented: bool, resume: str | Path | None = None,
                     on_step: Callable[[StepReport], None] | None = None,
                     should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Train with the configured method; on completion also writes checkpoints/student.pt.

    Returns the loop's summary plus `student` (the plain checkpoint, None if stopped early) and,
    for DWPose with a stage 2, `dwpose_export` (which stage student.pt holds, and why).
    """
    run_dir = Path(run_dir)
    trainer = build_distill_trainer(exp, distill, run_dir, env)
    other = [(st.name, src) for st in exp.stages for src in st.sources if src == "pseudo"]
    if distill.cache and other:  # its rows are numbered in their own file: they would read h36m rows' outputs
        raise CacheError(f"distill.cache holds teacher outputs of data.h36m rows, but stage {other[0][0]!r} also "
                         f"trains on source {other[0][1]!r}, whose row numbers are another file's; "
                         "leave distill.cache empty (live teacher)")
    sets = attach_cache(train_sets, distill, trainer.codec, augmented, exp.data.h36m)
    if env.is_main:
        from movnect.train.config import dump_toml

        run_dir.mkdir(parents=True, exist_ok=True)
        atomic.write_text(run_dir / "distill.toml", dump_toml(distill_to_dict(exp, distill)))
    summary = trainer.fit(sets, val_set, resume=resume, on_step=on_step, should_stop=should_stop)
    summary["student"] = None
    if not summary["stopped"] and env.is_main:
        if distill.method == "dwpose" and distill.dwpose.self_kd_stage:
            student, summary["dwpose_export"] = write_dwpose_students(run_dir, exp, distill, summary["stage_best"])
            summary["student"] = str(student)
        else:
            summary["student"] = str(write_student(run_dir, distill))
    return summary


def resolve_distill_experiment(config: str | Path | None, overrides: list[str],
                               resume: str | Path | None) -> tuple[Any, DistillConfig]:
    """(ExperimentConfig, DistillConfig) from `config`, or from the distill.toml that a run
    folder keeps beside the resume checkpoint's folder."""
    from movnect.config import ConfigError
    from movnect.train.run import default_run_dir

    if config is None:
        if resume is None:
            raise ConfigError("distill needs --config (or --resume with a checkpoint of an earlier distillation run)")
        config = default_run_dir(None, resume) / "distill.toml"
        if not Path(config).is_file():
            raise ConfigError(f"no --config given and {config} (written by every distillation run) is missing")
    return load_distill_experiment(config, overrides)


def run_distill_from_config(config: str | Path | None, overrides: list[str] | None = None,
                            resume: str | Path | None = None, out: str | Path | None = None,
                            on_step: Callable[[StepReport], None] | None = None,
                            should_stop: Callable[[], bool] | None = None,
                            overwrite: bool = False) -> dict[str, Any]:
    """What `movnect distill` calls: process group, datasets, the method's trainer, fit,
    student.pt and summary.json (in the run folder, default runs/<config name>). A folder
    holding an earlier run is refused unless `resume` or `overwrite` (movnect.train.run)."""
    from movnect.train.resume import read_training_checkpoint
    from movnect.train.data import build_datasets, check_sources
    from movnect.train.distributed import setup_distributed, teardown_distributed
    from movnect.train.run import check_run_dir, claim_run_dir, default_run_dir

    exp, distill = resolve_distill_experiment(config, overrides or [], resume)
    check_sources(exp, teacher=distill.method)
    run_dir = Path(out) if out is not None else default_run_dir(config, resume)
    check_run_dir(run_dir, resume, overwrite)  # every process, before any slow set-up
    if resume is not None:  # fail before the slow set-up when the checkpoint cannot resume
        read_training_checkpoint(resume, exp.model)
    if distill.uses_teacher:  # and before it when the teacher does not fit the student
        load_teacher(distill.teacher, exp.model, Codec(exp.codec))
    env = setup_distributed(exp.train.device)
    lock = claim_run_dir(run_dir, resume, overwrite) if env.is_main else None
    try:
        train_sets, val_set = build_datasets(exp, Codec(exp.codec))
        summary = run_distillation(exp, distill, run_dir, train_sets, val_set, env, augmented=exp.data.augment.enabled,
                                   resume=resume, on_step=on_step, should_stop=should_stop)
        summary["world_size"] = env.world_size
        summary["method"] = distill.method
        if env.is_main:
            atomic.write_json(run_dir / "summary.json", summary, indent=2)
        return summary
    finally:
        if lock is not None:
            lock.release()
        teardown_distributed()


def build_cache_from_config(config: str | Path, overrides: list[str] | None, out: str | Path,
                            device: str = "cpu", batch_size: int = 32,
                            progress: Callable[[int, int], None] | None = None) -> Path:
    """Precompute the teacher's outputs on the config's Human3.6M training rows, un-augmented
    (`movnect distill --config ... --build-cache OUT`). DWPose configs also store features.
    2D-only sources have no dataset row: their samples keep the live teacher."""
    from movnect.data.dataset import H36MDataset
    from movnect.data.transforms import NO_AUGMENT

    exp, distill = load_distill_experiment(config, overrides or [])
    if not distill.uses_teacher:
        raise CacheError(f"distill.method = {distill.method!r} has no teacher to cache")
    codec = Codec(exp.codec)
    teacher = load_teacher(distill.teacher, exp.model, codec).to(torch.device(device))
    d = exp.data
    dataset = H36MDataset(d.h36m, codec, d.train_subjects, d.train_frame_step, NO_AUGMENT)
    from movnect.config import to_dict
    from teacher_student.cache import build_cache

    need_feature = distill.method == "dwpose" and distill.dwpose.feature_weight > 0
    return build_cache(out, teacher.model, distill.teacher, to_dict(teacher.config), codec, dataset,
                       data_file=d.h36m, include_feature=need_feature, batch_size=batch_size, device=device,
                       workers=exp.train.workers, progress=progress)
