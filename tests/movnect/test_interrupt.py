"""movnect.interrupt: SIGTERM and SIGHUP raise KeyboardInterrupt like Ctrl-C; handlers restored."""
import os
import signal
import time

import pytest

from movnect.interrupt import interrupt_signals, stop_handler


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_each_signal_is_a_keyboard_interrupt_and_handlers_come_back(sig):
    # as in a process started normally (a test run under nohup or in a background job starts
    # with SIGHUP / SIGINT ignored, which interrupt_signals deliberately keeps)
    inherited = signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
    try:
        before = signal.getsignal(sig)
        with pytest.raises(KeyboardInterrupt):
            with interrupt_signals():
                os.kill(os.getpid(), sig)
                time.sleep(1.0)  # the handler runs at the next bytecode; never reached
        assert signal.getsignal(sig) == before
    finally:
        signal.signal(sig, inherited)


def test_ignored_signal_stays_ignored():
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with interrupt_signals():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN)
    finally:
        signal.signal(signal.SIGHUP, before)


def test_stop_handler_first_asks_then_aborts(capsys):
    stop: list[bool] = []
    handler = stop_handler(stop)
    handler(signal.SIGTERM, None)
    assert stop == [True] and "SIGTERM: stopping after this step" in capsys.readouterr().err
    with pytest.raises(KeyboardInterrupt):
        handler(signal.SIGTERM, None)
