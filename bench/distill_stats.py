"""Paired statistics of the distillation benchmark (bench/distill_gain.py): plain functions.

Seed s of every method shares seed s of the scratch student (same initial student weights,
same batch order), so the runs are paired: the figure of merit is the per-seed difference
d_s = scratch_s - method_s (mm of test MPJPE; positive = the method is better), summarised by
its mean, the sample standard deviation, the 95 % confidence interval of the mean from the
t-distribution with n - 1 degrees of freedom, and the two-sided paired t-test p-value.

A gain "holds" at a budget only when the whole interval lies above zero; an interval that
straddles zero is "inconclusive" whatever its mean.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats


def paired_difference(baseline: Sequence[float], method: Sequence[float], level: float = 0.95) -> dict:
    """Paired comparison of `method` against `baseline`, seed by seed (same order, mm).

    Returns {n, diffs, mean, sd, se, t_crit, ci (lo, hi), t, p, gain_pct, verdict}: diffs =
    baseline - method; sd with n - 1 in the denominator; ci = mean -/+ t_crit se with t_crit
    the (1 + level) / 2 quantile of Student's t with n - 1 degrees of freedom; gain_pct = 100
    mean / mean(baseline); verdict "gain" (ci above 0), "loss" (below 0) or "inconclusive".
    With n < 2 the spread, interval and p are None and the verdict "inconclusive".
    """
    if len(baseline) != len(method):
        raise ValueError(f"paired_difference: {len(baseline)} baseline values but {len(method)} method values")
    if len(baseline) == 0:
        raise ValueError("paired_difference: no pairs")
    diffs = [float(b) - float(m) for b, m in zip(baseline, method)]
    n = len(diffs)
    mean = sum(diffs) / n
    base = sum(float(b) for b in baseline) / n
    out: dict = {"n": n, "diffs": diffs, "mean": mean, "sd": None, "se": None, "t_crit": None, "ci": None,
                 "t": None, "p": None, "gain_pct": 100.0 * mean / base, "level": level, "verdict": "inconclusive"}
    if n < 2:
        return out
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    se = sd / math.sqrt(n)
    t_crit = float(stats.t.ppf(0.5 + level / 2, n - 1))
    lo, hi = mean - t_crit * se, mean + t_crit * se
    if se > 0:
        t = mean / se
        p = float(2.0 * stats.t.sf(abs(t), n - 1))
    else:  # identical differences: no spread
        t, p = (math.copysign(math.inf, mean), 0.0) if mean != 0 else (0.0, 1.0)
    verdict = "gain" if lo > 0 else "loss" if hi < 0 else "inconclusive"
    out.update(sd=sd, se=se, t_crit=t_crit, ci=(lo, hi), t=t, p=p, verdict=verdict)
    return out


def rounded(d: dict, digits: int = 2) -> dict:
    """The same dict with floats (and float pairs / lists) rounded for printing."""
    def r(v):  # noqa: ANN001, ANN202
        if isinstance(v, float):
            return v if math.isinf(v) else round(v, digits if abs(v) >= 1e-3 else 6)
        if isinstance(v, (list, tuple)):
            return [r(x) for x in v]
        return v
    return {k: r(v) for k, v in d.items()}
