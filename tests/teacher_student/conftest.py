"""One intra-op thread for the distillation tests.

These tests run many small convolutions; with two threads on a machine whose two cores are
busy with other work, torch's thread pool oversubscribes and a training step was measured
~40x slower (1.1 s vs 28 ms for a tiny MoVNect step). One thread keeps them fast either way.
"""
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
