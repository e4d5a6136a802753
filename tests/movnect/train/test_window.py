"""StepWindow: the loop's device-side record of the steps since its last sync point."""
from __future__ import annotations

import pytest
import torch

from movnect.train.distributed import DistEnv
from movnect.train.window import StepRecord, StepWindow

CPU = DistEnv(0, 1, 0, torch.device("cpu"))


def _step(n: int, loss: float, *, grad_ok: bool = True) -> tuple[StepRecord, torch.Tensor]:
    total = torch.tensor(loss)
    record = StepRecord("main3d", 0, n - 1, n, {"heatmap": total / 2, "total": total})
    return record, torch.stack([torch.isfinite(total), torch.tensor(grad_ok)])


def test_first_non_finite_names_the_first_failing_step_loss_before_gradient() -> None:
    w = StepWindow()
    for n, loss, grad_ok in ((1, 1.0, True), (2, 2.0, False), (3, float("nan"), True), (4, float("inf"), False)):
        record, flags = _step(n, loss, grad_ok=grad_ok)
        w.add(record, flags, samples=4)
    assert w.pending == 4
    what, record = w.first_non_finite(CPU)
    assert (what, record.step, record.batch) == ("gradient norm", 2, 1)
    assert w.pending == 0 and w.first_non_finite(CPU) is None  # checked steps are forgotten
    record, flags = _step(5, float("nan"), grad_ok=False)
    w.add(record, flags, samples=4)
    assert w.first_non_finite(CPU)[0] == "loss"  # a NaN loss is named before its NaN gradient


def test_take_means_averages_each_term_over_the_log_window_and_restarts_it() -> None:
    w = StepWindow()
    for n, loss in ((1, 1.0), (2, 3.0)):
        w.add(*_step(n, loss), samples=4)
    means, rate = w.take_means()
    assert means == {"heatmap": 1.0, "total": 2.0} and rate > 0
    w.add(*_step(3, 5.0), samples=4)
    assert w.take_means()[0] == {"heatmap": 2.5, "total": 5.0}
    assert w.take_means()[0] == {}  # an empty window logs nothing
    assert w.pending == 3  # logging does not check: the loop checks before it logs


def test_sums_never_modify_a_step_s_own_terms() -> None:
    w = StepWindow()
    first, flags = _step(1, 1.0)
    w.add(first, flags, samples=1)
    w.add(*_step(2, 2.0), samples=1)
    assert float(first.parts["total"]) == 1.0


def test_add_rejects_flags_of_the_wrong_shape() -> None:
    record, _ = _step(1, 1.0)
    with pytest.raises(ValueError, match=r"shape \(2,\), got \(1,\)"):
        StepWindow().add(record, torch.tensor([True]), samples=1)
