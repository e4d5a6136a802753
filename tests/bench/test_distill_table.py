"""bench/distill_table.py: the Markdown of a hand-made sweep result, checked against hand-computed
paired differences, the chosen cells, and the error path."""
from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from distill_table import main, tables  # noqa: E402


def arm(seeds, test, val, **extra):
    return {"seeds": seeds, "test_mpjpe": test, "val_mpjpe": val, "missing_seeds": [],
            "mean_test_mpjpe": sum(test) / len(test), "mean_val_mpjpe": sum(val) / len(val), **extra}


def result() -> dict:
    scratch = arm([0, 1, 2], [110.0, 112.0, 114.0], [100.0, 101.0, 102.0])
    ours = arm([0, 1, 2], [105.0, 108.0, 111.0], [95.0, 96.0, 97.0])
    theirs = arm([0, 1], [111.0, 113.0], [99.0, 99.0])
    theirs["missing_seeds"] = [2]
    return {"design": {"seeds": [0, 1, 2], "student": "movnect width 0.5", "input_size": 128, "batch": 16},
            "data": "synthetic release (NOT Human3.6M)", "not_run": ["x"],
            "budgets": {"1x": {"steps": 1200, "chosen": {"lr": 0.006, "augment": False},
                               "grid_seed0": [{"lr": 0.003, "augment": False, "val_mpjpe": 104.0},
                                              {"lr": 0.006, "augment": False, "val_mpjpe": 100.0}],
                               "dwpose_weights_chosen": {"variant": "ours"},
                               "arms": {"scratch": scratch, "dwpose_ours": ours, "dwpose_dwpose": theirs,
                                        "dwpose": ours}},
                        "4x": {"steps": 4800, "grid_seed0": [], "arms": {}, "missing": "scratch grid not finished"}}}


def test_tables_give_the_paired_figures_and_mark_the_choices() -> None:
    text = tables(result())
    lines = text.splitlines()
    assert "| 0.006 | off | **100.0** |" in lines and "| 0.003 | off | 104.0 |" in lines
    ours = next(x for x in lines if x.startswith("| DWPose, our weights"))
    # diffs 5, 4, 3: mean 4, CI 4 -/+ 4.302653 / sqrt(3) = 1.52 .. 6.48; p = 1 - sqrt(48/50) = 0.020
    assert "(chosen on S8)" in ours and "+4.0 (1.5 .. 6.5), +3.6 %" in ours and "| 0.020 | gain |" in ours
    theirs = next(x for x in lines if x.startswith("| DWPose, DWPose's"))
    assert "(chosen" not in theirs and "(seeds 2 not run)" in theirs and "-1.0 (-1.0 .. -1.0)" in theirs
    assert sum(x.startswith("| DWPose") for x in lines) == 2  # the "dwpose" copy is not a row
    assert "Not reported: scratch grid not finished." in text and "Not run (deadline): 1 runs." in text


def test_cli_writes_the_file_and_refuses_a_bad_one(tmp_path: Path, capsys) -> None:
    src = tmp_path / "result.json"
    src.write_text(json.dumps(result()))
    assert main([str(src), "--out", str(tmp_path / "t.md")]) == 0
    assert (tmp_path / "t.md").read_text() == capsys.readouterr().out
    src.write_text("{}")
    assert main([str(src)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot read" in err[0]


def test_the_published_tables_are_the_kept_results_output() -> None:
    """README and docs/distillation.md show bench/distill_table.py's output of the kept sweep
    result verbatim (no figure typed by hand; a re-run result must be re-published)."""
    root = BENCH.parent
    kept = json.loads((root / "docs/results/distill_gain_cpu_1x.json").read_text())
    arm_table = tables(kept).split("\n\n")[-1].strip()  # the per-arm table of the last budget
    assert arm_table.startswith("| arm |") and "| OKDHP |" in arm_table
    for doc in ("README.md", "docs/distillation.md"):
        assert arm_table in (root / doc).read_text(), doc
