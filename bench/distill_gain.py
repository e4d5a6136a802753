"""Does distillation help, and does the help survive more seeds and more steps?

    python bench/distill_gain.py [--seeds 3] [--budgets 1,4,10] [--steps 1200] [--work DIR]
    python bench/distill_gain.py --device cuda --parallel 12 --budgets 1,4,10   # one H200, see
                                                 # bench/distill_gain_cuda.sh (renders its data there)

Same student, data and step budget for every arm: scratch vs mimicry vs DWPose vs OKDHP, on the
shared synthetic release (bench/synthetic_data.py: train S1 S5 S6 S7, model selection on S8,
test S9 S11: held-out subjects; NOT Human3.6M numbers).

Design (issue 17):
- Seeds: every arm runs with seeds 0 .. --seeds - 1 (>= 3). Seed s of a method and seed s of
  scratch share the student's initial weights and the batch order, so they are PAIRED: the
  report gives, per method and budget, the per-seed differences scratch - method (test MPJPE,
  mm), their mean, the 95 % confidence interval from the t-distribution (n - 1 dof) and the
  paired t-test p (bench/distill_stats.py). A gain "holds" only when the interval is above 0.
- Budgets: --budgets multiplies --steps (e.g. 1,4,10 -> 1200, 4800, 12000 steps); a gain that
  shrinks as the scratch student converges shows up as an interval moving to 0.
- Selection on S8 only, never on the test subjects: per budget the scratch student gets a
  learning-rate x augmentation grid on seed 0, chosen by S8 validation MPJPE, and every arm
  reuses the chosen cell; each run's checkpoint is its best S8 validation; DWPose exports the
  better of its stage 1 and stage 2 by S8 validation (teacher_student.run); DWPose weight sets
  (--dwpose-weights ours,dwpose) are chosen by mean S8 validation over the seeds. Test figures
  are computed for every run but never feed a choice.
- Teacher: VNect ResNet-18, --teacher-cycles cosine cycles of --teacher-steps (trained once).

Devices: `--device cpu` runs the runs one after the other in this process (2-core machine: hours
for the full sweep); with un-augmented arms the teacher runs once over the training rows
(--teacher-cache auto: WORK/teacher_cache.h5, float16) instead of once per step, so a mimicry
or DWPose run costs about a scratch run (measured: 285-350 s against 330 s, 1200 steps) with the
same teacher outputs. `--device cuda` decodes the training and validation splits once
(bench/device_data.py) into a file that each of --parallel worker processes loads into GPU
memory, trains with bf16 autocast, and writes every run's result.json and a line of
WORK/runs.jsonl as it finishes; --deadline-s stops starting runs that would not finish in time
(finished runs stay valid; unfinished cells are reported as missing). Every finished run is cached
in its folder, so a second call skips it. Prints ONE JSON object (also WORK/result.json).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import time
from pathlib import Path

import torch

from distill_stats import paired_difference, rounded

TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7")
VAL_SUBJECTS = ("S8",)
TEST_SUBJECTS = ("S9", "S11")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="bench_out/distill_gain", help="run folders and results")
    ap.add_argument("--data", default="data/synth", help="shared synthetic release folder (rendered if missing)")
    ap.add_argument("--data-h5", default="", help="an existing prepared HDF5 file instead of --data (tests)")
    ap.add_argument("--tiny", action="store_true", help="a few steps of everything (development)")
    ap.add_argument("--seeds", type=int, default=3, help="paired seeds 0 .. N-1 per arm (>= 2; 3+ for a CI)")
    ap.add_argument("--budgets", default="1", help="multipliers of --steps, e.g. 1,4,10")
    ap.add_argument("--steps", type=int, default=1200, help="student optimisation steps at budget 1")
    ap.add_argument("--teacher-steps", type=int, default=3600)
    ap.add_argument("--teacher-cycles", type=int, default=2, help="cosine cycles of --teacher-steps, warm-started")
    ap.add_argument("--epochs", type=int, default=6, help="epochs each run's steps are split into (validation, r(t))")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--input-size", type=int, default=128)
    ap.add_argument("--width", type=float, default=0.5, help="student width multiplier")
    ap.add_argument("--teacher", default="vnect", choices=("vnect", "movnect"))
    ap.add_argument("--teacher-depth", type=int, default=18, choices=(18, 34, 50))
    ap.add_argument("--teacher-width", type=float, default=1.0, help="movnect teacher width")
    ap.add_argument("--teacher-augment", default="off", choices=("on", "off"))
    ap.add_argument("--teacher-lr", type=float, default=3e-3)
    ap.add_argument("--lrs", default="1e-3,3e-3,6e-3,1e-2", help="scratch learning-rate grid (per budget)")
    ap.add_argument("--augment", default="on,off", help="scratch augmentation grid (cuda: off only)")
    ap.add_argument("--methods", default="mimicry,dwpose,okdhp")
    ap.add_argument("--dwpose-weights", default="ours", help="DWPose weight sets, chosen on S8: ours, dwpose")
    ap.add_argument("--okdhp-divergence", default="mse", choices=("mse", "kl"))
    ap.add_argument("--train-frame-step", type=int, default=2)
    ap.add_argument("--val-frame-step", type=int, default=16)
    ap.add_argument("--val-samples", type=int, default=256)
    ap.add_argument("--test-frame-step", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2, help="torch threads per run process")
    ap.add_argument("--workers", type=int, default=1, help="DataLoader workers per run (cpu)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--amp", default="auto", choices=("auto", "off", "bf16", "fp16"), help="auto: bf16 on cuda")
    ap.add_argument("--parallel", type=int, default=0, help="runs at once (default: 1 on cpu, 12 on cuda)")
    ap.add_argument("--teacher-cache", default="auto", choices=("auto", "off"),
                    help="auto: on cpu, the teacher's outputs on the un-augmented training rows are computed once "
                         "(WORK/teacher_cache.h5) and read by mimicry and DWPose runs; off: a teacher forward per step")
    ap.add_argument("--deadline-s", type=float, default=0.0, help="start no run that would end after this (0: none)")
    ap.add_argument("--data-procs", type=int, default=2, help="processes rendering the synthetic release if missing")
    args = ap.parse_args(argv)
    if args.tiny:
        args.steps, args.teacher_steps, args.epochs = 12, 24, 2
        args.lrs, args.augment = args.lrs.split(",")[0], args.augment.split(",")[0]
    if args.seeds < 2:
        ap.error("--seeds must be >= 2 (a paired difference needs two pairs; use 3+ for a useful interval)")
    if args.amp == "auto":
        args.amp = "bf16" if args.device == "cuda" else "off"
    if args.parallel <= 0:
        args.parallel = 12 if args.device == "cuda" else 1
    if args.device == "cuda":
        args.workers = 0  # the data are already on the GPU
        if "on" in args.augment.split(",") or args.teacher_augment == "on":
            ap.error("--device cuda trains on decoded, un-augmented data: use --augment off --teacher-augment off")
    return args


def lists(args: argparse.Namespace) -> dict:
    return {"lrs": [float(x) for x in args.lrs.split(",")], "augs": [x.strip() == "on" for x in args.augment.split(",")],
            "budgets": [float(x) for x in args.budgets.split(",")], "seeds": list(range(args.seeds)),
            "methods": [m for m in args.methods.split(",") if m], "variants": [v for v in args.dwpose_weights.split(",") if v]}


# ---- the job list ------------------------------------------------------------------------------

def budget_steps(args: argparse.Namespace, mult: float) -> int:
    return max(args.epochs, round(args.steps * mult))


def job_name(args: argparse.Namespace, job: dict) -> str:
    a = args
    if job["kind"] == "teacher":
        size = f"d{a.teacher_depth}" if a.teacher == "vnect" else f"w{a.teacher_width:g}"
        return f"teacher_{a.teacher}{size}_s{a.teacher_steps}x{a.teacher_cycles}_lr{a.teacher_lr:g}_aug{a.teacher_augment}"
    base = (f"w{a.width:g}_s{budget_steps(a, job['budget'])}_e{a.epochs}_b{a.batch}_lr{job['lr']:g}"
            f"_aug{int(job['augment'])}_seed{job['seed']}")
    if job["kind"] == "scratch":
        return f"scratch_{base}"
    m = job["method"]
    tag = {"okdhp": f"okdhp_{a.okdhp_divergence}", "dwpose": f"dwpose_{job.get('variant', 'ours')}"}.get(m, m)
    return f"{tag}_{base}"


def grid_jobs(args: argparse.Namespace) -> list[dict]:
    L = lists(args)
    return [{"kind": "scratch", "budget": b, "seed": 0, "lr": lr, "augment": aug}
            for b in L["budgets"] for lr in L["lrs"] for aug in L["augs"]]


def chosen_cell(args: argparse.Namespace, results: dict, budget: float) -> dict | None:
    """The scratch grid cell of `budget` with the lowest S8 validation MPJPE (seed 0)."""
    cells = [r for j in grid_jobs(args) if j["budget"] == budget and (r := results.get(job_name(args, j)))]
    cells = [r for r in cells if r.get("val_mpjpe") is not None]
    return min(cells, key=lambda r: r["val_mpjpe"]) if cells else None


def arm_jobs(args: argparse.Namespace, results: dict) -> list[dict]:
    """Every seed of every arm at every budget, on that budget's chosen cell (budgets ascending)."""
    L, jobs = lists(args), []
    for b in sorted(L["budgets"]):
        cell = chosen_cell(args, results, b)
        if cell is None:
            continue
        common = {"budget": b, "lr": cell["lr"], "augment": cell["augment"]}
        for seed in L["seeds"]:
            jobs.append({"kind": "scratch", "seed": seed, **common})
            for m in L["methods"]:
                for v in (L["variants"] if m == "dwpose" else [None]):
                    jobs.append({"kind": "distill", "method": m, "seed": seed, **common, **({"variant": v} if v else {})})
    return jobs


# ---- running -----------------------------------------------------------------------------------

_BENCH = None  # the worker process's Bench (run_job)


def _init_worker(args_dict: dict, h5: str, decoded: dict) -> None:
    global _BENCH
    from distill_runs import Bench

    args = argparse.Namespace(**args_dict)
    torch.set_num_threads(args.threads)
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
    _BENCH = Bench(args, Path(h5), decoded)


def _run(job: dict) -> tuple[dict, dict]:
    return job, _BENCH.run(job)  # type: ignore[union-attr]


def run_all(args: argparse.Namespace, jobs: list[dict], results: dict, pool, t0: float, log) -> list[dict]:  # noqa: ANN001
    """Run `jobs` (`pool`: a multiprocessing pool, or None = this process); results[name] = record
    as each finishes, one line of runs.jsonl each. Returns the jobs skipped for the deadline."""
    todo = [j for j in jobs if job_name(args, j) not in results]
    skipped: list[dict] = []
    rate: dict[str, float] = {}  # seconds per step, per kind, from finished runs

    def fits(job: dict) -> bool:
        if not args.deadline_s:
            return True
        steps = args.teacher_steps * args.teacher_cycles if job["kind"] == "teacher" else budget_steps(args, job["budget"])
        per = rate.get(job.get("method", job["kind"]))
        return per is None or time.perf_counter() - t0 + per * steps < args.deadline_s

    def done(job: dict, rec: dict) -> None:
        results[job_name(args, job)] = rec
        if rec.get("reused"):
            return  # finished by an earlier call: already in runs.jsonl
        if rec.get("steps") and rec.get("seconds"):
            rate[job.get("method", job["kind"])] = rec["seconds"] / rec["steps"]
        log(rec)

    if pool is None:
        for job in todo:
            if fits(job):
                done(job, _BENCH.run(job))  # type: ignore[union-attr]
            else:
                skipped.append(job)
        return skipped
    pending: list = []
    queue = list(todo)
    while queue or pending:
        while queue and len(pending) < args.parallel:
            job = queue.pop(0)
            if fits(job):
                pending.append(pool.apply_async(_run, (job,)))
            else:
                skipped.append(job)
        ready = [p for p in pending if p.ready()]
        for p in ready:
            pending.remove(p)
            done(*p.get())
        if args.deadline_s and time.perf_counter() - t0 > args.deadline_s and pending:
            skipped.extend(queue)
            queue.clear()
            break  # runs still going are abandoned (pool.terminate by the caller)
        if not ready:
            time.sleep(0.2)
    return skipped


def teacher_cache(args: argparse.Namespace, arms: list[dict], results: dict, teacher: str, h5: Path,
                  work: Path) -> str:
    """WORK/teacher_cache.h5 when --teacher-cache auto applies (cpu, a teacher, an un-augmented
    teacher arm still to run), else "". Its outputs equal the live teacher's (eval mode, the same
    un-augmented crops), stored float16; built in this process before the runs."""
    todo = [j for j in arms if j.get("method") in ("mimicry", "dwpose") and not j["augment"]
            and job_name(args, j) not in results]
    if args.teacher_cache == "off" or args.device != "cpu" or not teacher or not todo:
        return ""
    from distill_runs import Bench

    t = time.perf_counter()
    path = Bench(args, h5).build_teacher_cache(teacher, work / "teacher_cache.h5",
                                               include_feature=any(j["method"] == "dwpose" for j in todo))
    print(f"teacher cache {path}: {time.perf_counter() - t:.0f} s", flush=True)
    return path


# ---- the report --------------------------------------------------------------------------------

def arm_key(job: dict) -> str:
    if job["kind"] == "scratch":
        return "scratch"
    return f"dwpose_{job['variant']}" if job["method"] == "dwpose" else job["method"]


def report(args: argparse.Namespace, results: dict) -> dict:
    """Per budget: grid and choice, per-seed figures of every arm, paired differences with
    95 % intervals against scratch; DWPose's weight set chosen by mean S8 validation."""
    L, out = lists(args), {}
    for b in sorted(L["budgets"]):
        cell = chosen_cell(args, results, b)
        grid = [{"lr": j["lr"], "augment": j["augment"], "val_mpjpe": results.get(job_name(args, j), {}).get("val_mpjpe")}
                for j in grid_jobs(args) if j["budget"] == b]
        entry: dict = {"steps": budget_steps(args, b), "grid_seed0": grid, "arms": {}, "paired_vs_scratch": {}}
        if cell is None:
            out[f"{b:g}x"] = {**entry, "missing": "scratch grid not finished"}
            continue
        entry["chosen"] = {"lr": cell["lr"], "augment": cell["augment"], "by": "S8 validation MPJPE, seed 0"}
        arms: dict[str, dict] = {}
        for job in arm_jobs(args, results):
            if job["budget"] != b:
                continue
            rec = results.get(job_name(args, job))
            arm = arms.setdefault(arm_key(job), {"seeds": [], "test_mpjpe": [], "val_mpjpe": [], "missing_seeds": []})
            if rec is None:
                arm["missing_seeds"].append(job["seed"])
                continue
            arm["seeds"].append(job["seed"])
            arm["test_mpjpe"].append(rec["test"]["mpjpe"])
            arm["val_mpjpe"].append(rec["val_mpjpe"])
            if rec.get("dwpose_export"):
                arm.setdefault("exported_stage", []).append(rec["dwpose_export"])
        for a in arms.values():
            for k in ("test_mpjpe", "val_mpjpe"):
                vals = [v for v in a[k] if v is not None]
                a[f"mean_{k}"] = round(sum(vals) / len(vals), 2) if vals else None
        variants = {k: v for k, v in arms.items() if k.startswith("dwpose_") and v["mean_val_mpjpe"] is not None}
        if variants:
            pick = min(variants, key=lambda k: variants[k]["mean_val_mpjpe"])
            entry["dwpose_weights_chosen"] = {"variant": pick.split("_", 1)[1], "by": "mean S8 validation MPJPE over seeds",
                                              "val": {k: v["mean_val_mpjpe"] for k, v in variants.items()}}
            arms["dwpose"] = arms[pick]
        entry["arms"] = arms
        scratch = dict(zip(arms.get("scratch", {}).get("seeds", []), arms.get("scratch", {}).get("test_mpjpe", [])))
        for name, a in arms.items():
            if name == "scratch" or name.startswith("dwpose_"):
                continue
            pairs = [(scratch[s], m) for s, m in zip(a["seeds"], a["test_mpjpe"]) if s in scratch]
            if len(pairs) >= 1:
                entry["paired_vs_scratch"][name] = rounded(paired_difference([p[0] for p in pairs], [p[1] for p in pairs]))
        out[f"{b:g}x"] = entry
    survival = {m: {b: e["paired_vs_scratch"].get(m, {}).get("verdict", "missing") for b, e in out.items()}
                for m in L["methods"]}
    return {"budgets": out, "survival": survival}


def machine() -> dict:
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return {"cpu_count": os.cpu_count(), "gpu": gpu, "torch": torch.__version__, "python": platform.python_version(),
            "platform": platform.platform()}


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.data_h5:
        h5 = Path(args.data_h5)
    else:
        from synthetic_data import ensure_synthetic_h5

        h5 = ensure_synthetic_h5(args.data, processes=args.data_procs)
    decoded: dict = {}
    if args.device == "cuda":  # decoded once here, loaded onto the GPU by every worker
        from device_data import decode_split
        from movnect.codec import Codec, CodecConfig

        codec = Codec(CodecConfig(input_size=args.input_size))
        w = max(1, (os.cpu_count() or 2) - 1)
        decoded = {"train": str(decode_split(h5, codec, TRAIN_SUBJECTS, args.train_frame_step, work / "decoded_train.pt", w)),
                   "val": str(decode_split(h5, codec, VAL_SUBJECTS, args.val_frame_step, work / "decoded_val.pt", w))}
    data_seconds = round(time.perf_counter() - t0, 1)
    results: dict[str, dict] = {}
    log_path = work / "runs.jsonl"

    def log(rec: dict) -> None:
        with open(log_path, "a") as f:  # one line per finished run, as it finishes
            f.write(json.dumps(rec) + "\n")

    pool = None
    if args.parallel > 1:
        pool = mp.get_context("spawn").Pool(args.parallel, _init_worker, (vars(args), str(h5), decoded))
    else:
        _init_worker(vars(args), str(h5), decoded)
    try:
        skipped = run_all(args, [{"kind": "teacher"}] + grid_jobs(args), results, pool, t0, log)
        teacher = results.get(job_name(args, {"kind": "teacher"}))
        arms = arm_jobs(args, results)
        if teacher is None:  # no teacher (deadline): the arms that need one cannot run
            skipped += [j for j in arms if j.get("method") in ("mimicry", "dwpose")]
            arms = [j for j in arms if j.get("method") not in ("mimicry", "dwpose")]
        ckpt = teacher["teacher_checkpoint"] if teacher else ""
        cache = teacher_cache(args, arms, results, ckpt, h5, work)
        skipped += run_all(args, [dict(j, teacher=ckpt, cache=cache) for j in arms], results, pool, t0, log)
    finally:
        if pool is not None:
            pool.terminate()
    rep = report(args, results)
    L = lists(args)
    out = {
        "benchmark": "distill_gain", "data": "synthetic release (NOT Human3.6M)", "tiny": args.tiny,
        "split": {"train": TRAIN_SUBJECTS, "val (all selection)": VAL_SUBJECTS, "test (never used to choose)": TEST_SUBJECTS,
                  "test_frame_step": args.test_frame_step},
        "design": {"seeds": L["seeds"], "budgets": {f"{b:g}x": budget_steps(args, b) for b in L["budgets"]},
                   "batch": args.batch, "epochs_per_run": args.epochs, "input_size": args.input_size,
                   "student": f"movnect width {args.width}", "methods": L["methods"], "dwpose_weights": L["variants"],
                   "pairing": "seed s of each method vs seed s of scratch (same initial student, same batch order)",
                   "statistic": "scratch - method test MPJPE (mm), mean with 95 % t interval, paired t-test p",
                   "dwpose": "stage 1 5/6 + stage 2 1/6 of the steps; exported stage chosen on S8"},
        "teacher": {k: v for k, v in (results.get(job_name(args, {"kind": "teacher"})) or {}).items()
                    if k not in ("teacher_checkpoint", "checkpoint")},
        **rep,
        "not_run": [job_name(args, j) for j in skipped],
        "device": args.device, "amp": args.amp, "parallel": args.parallel, "machine": machine(),
        "data_seconds": data_seconds, "seconds": round(time.perf_counter() - t0, 1),
    }
    (work / "result.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
