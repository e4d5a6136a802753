"""The Markdown tables of a distillation sweep, from its result file (bench/distill_gain.py).

    python bench/distill_table.py bench_out/distill_gain/result.json [--out FILE.md]

Per budget: the scratch grid on seed 0 (S8 validation, the chosen cell in bold), then one row
per arm with its per-seed test MPJPE (S9, S11), mean S8 validation and test MPJPE, and the
paired difference scratch - arm (mean, 95 % t interval, paired p, verdict; positive = the arm
is better). DWPose's weight sets each get a row; the set chosen on S8 is marked, and only it
stands for "dwpose" in the JSON's `survival`. The tables are what README.md and
docs/distillation.md show, so they are printed from the file rather than typed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from distill_stats import paired_difference

ARM_NAMES = {"scratch": "scratch (tuned on S8)", "mimicry": "MoVNect mimicry", "okdhp": "OKDHP",
             "dwpose_ours": "DWPose, our weights", "dwpose_dwpose": "DWPose, DWPose's effective weights"}


def _f(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def grid_table(entry: dict) -> list[str]:
    chosen = entry.get("chosen") or {}
    lines = ["| lr | augmentation | S8 validation MPJPE (seed 0) |", "|---|---|---|"]
    for cell in entry["grid_seed0"]:
        mark = cell["lr"] == chosen.get("lr") and cell["augment"] == chosen.get("augment")
        val = _f(cell["val_mpjpe"])
        lines.append(f"| {cell['lr']:g} | {'on' if cell['augment'] else 'off'} | {f'**{val}**' if mark else val} |")
    return lines


def arm_rows(entry: dict) -> list[str]:
    arms = entry["arms"]
    scratch = dict(zip(arms.get("scratch", {}).get("seeds", []), arms.get("scratch", {}).get("test_mpjpe", [])))
    chosen = (entry.get("dwpose_weights_chosen") or {}).get("variant")
    lines = ["| arm | test MPJPE per seed (mm) | mean S8 val | mean test | scratch - arm: mean (95 % CI) | paired p | verdict |",
             "|---|---|---|---|---|---|---|"]
    for key, arm in arms.items():
        if key == "dwpose":
            continue  # a copy of the chosen weight set's arm
        name = ARM_NAMES.get(key, key)
        if key.startswith("dwpose_") and key.split("_", 1)[1] == chosen:
            name += " (chosen on S8)"
        per_seed = " / ".join(f"{v:.1f}" for v in arm["test_mpjpe"]) or "-"
        if arm.get("missing_seeds"):
            per_seed += f" (seeds {', '.join(map(str, arm['missing_seeds']))} not run)"
        diff, p, verdict = "-", "-", "-"
        if key != "scratch":
            pairs = [(scratch[s], m) for s, m in zip(arm["seeds"], arm["test_mpjpe"]) if s in scratch]
            if pairs:
                d = paired_difference([a for a, _ in pairs], [b for _, b in pairs])
                ci = f" ({d['ci'][0]:.1f} .. {d['ci'][1]:.1f})" if d["ci"] else ""
                diff = f"{d['mean']:+.1f}{ci}, {d['gain_pct']:+.1f} %"
                p = _f(d["p"], 3) if d["p"] is not None else "-"
                verdict = d["verdict"]
        lines.append(f"| {name} | {per_seed} | {_f(arm.get('mean_val_mpjpe'))} | {_f(arm.get('mean_test_mpjpe'))} "
                     f"| {diff} | {p} | {verdict} |")
    return lines


def tables(result: dict) -> str:
    """Markdown for every budget of a distill_gain result (see the module docstring)."""
    design = result["design"]
    out = [f"Seeds {', '.join(map(str, design['seeds']))} (paired); student {design['student']} at "
           f"{design['input_size']} px, batch {design['batch']}; {result.get('data', '')}."]
    for budget, entry in result["budgets"].items():
        out += ["", f"**Budget {budget}: {entry['steps']} steps.**", ""]
        if entry.get("missing"):
            out.append(f"Not reported: {entry['missing']}.")
            continue
        out += grid_table(entry) + [""] + arm_rows(entry)
    if result.get("not_run"):
        out += ["", f"Not run (deadline): {len(result['not_run'])} runs."]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("result", help="result.json of bench/distill_gain.py")
    ap.add_argument("--out", default=None, help="write the Markdown here too")
    args = ap.parse_args(argv)
    try:
        result = json.loads(Path(args.result).read_text())
        text = tables(result)
    except (OSError, ValueError, KeyError) as exc:
        print(f"distill_table: cannot read {args.result}: {exc}", file=sys.stderr)
        return 2
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
