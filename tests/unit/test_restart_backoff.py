"""Unit tests for the restart decision (cloudburst_management.supervision.RestartBackoff):
events in (exited at t, started at t), actions out (restart at t); time is an argument."""

from __future__ import annotations

import signal

import pytest
from cloudburst_management.supervision import RestartBackoff, exit_reason


def test_delays_double_up_to_the_cap() -> None:
    """Each exit soon after a start doubles the delay until it reaches the cap."""
    backoff = RestartBackoff(base_s=0.1, max_s=2.0, stable_s=100.0)
    delays = []
    now = 0.0
    for _ in range(8):
        backoff.started(now)
        restart = backoff.exited(now + 0.5, "exit code 1")
        delays.append(restart.at - (now + 0.5))
        now = restart.at
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0])


def test_never_gives_up() -> None:
    """A crash loop of a thousand exits still gets a restart each time, never later than
    the cap."""
    backoff = RestartBackoff(base_s=0.1, max_s=30.0, stable_s=10.0)
    now = 0.0
    for _ in range(1000):
        backoff.started(now)
        restart = backoff.exited(now + 0.01, "signal SIGSEGV")
        assert restart.at - (now + 0.01) <= 30.0 + 1e-6
        now = restart.at
    assert backoff.state(now - 1) == "backoff"
    assert backoff.failures == 1000


def test_state_says_backoff_with_the_next_attempt_and_the_last_exit() -> None:
    """Between an exit and its restart the state is `backoff`, with when the next attempt is
    and why the process last exited; once restarted it is `starting` again, keeping the
    last exit reason."""
    backoff = RestartBackoff(base_s=1.0, max_s=30.0, stable_s=10.0)
    backoff.started(0.0)
    assert backoff.state(0.5) == "starting"
    restart = backoff.exited(2.0, "signal SIGKILL")
    assert restart.at == pytest.approx(3.0)
    assert backoff.state(2.5) == "backoff"
    assert backoff.next_attempt == pytest.approx(3.0)
    assert backoff.last_exit == "signal SIGKILL"
    backoff.started(3.0)
    assert backoff.state(3.1) == "starting"
    assert backoff.next_attempt is None
    assert backoff.last_exit == "signal SIGKILL"
    backoff.healthy(4.0)
    assert backoff.state(4.0) == "running"


def test_a_stable_run_starts_the_backoff_over() -> None:
    """After running healthy for stable_s, an exit is restarted after the base delay again:
    capacity comes back by itself once the cause is gone."""
    backoff = RestartBackoff(base_s=0.5, max_s=8.0, stable_s=10.0)
    now = 0.0
    for _ in range(5):
        backoff.started(now)
        now = backoff.exited(now + 0.1, "exit code 3").at
    backoff.started(now)
    backoff.healthy(now + 1.0)
    restart = backoff.exited(now + 20.0, "exit code 3")
    assert restart.at - (now + 20.0) == pytest.approx(0.5)
    assert backoff.failures == 1


def test_an_unhealthy_long_run_does_not_reset() -> None:
    """A process that lived long but never became healthy keeps its backoff growing."""
    backoff = RestartBackoff(base_s=1.0, max_s=100.0, stable_s=10.0)
    backoff.started(0.0)
    first = backoff.exited(50.0, "exit code 1")
    backoff.started(first.at)
    second = backoff.exited(first.at + 50.0, "exit code 1")
    assert second.at - (first.at + 50.0) == pytest.approx(2.0)


def test_exit_reasons_name_the_signal_or_the_code() -> None:
    """asyncio reports a signal as a negative return code."""
    assert exit_reason(-signal.SIGSEGV) == "signal SIGSEGV"
    assert exit_reason(-signal.SIGKILL) == "signal SIGKILL"
    assert exit_reason(3) == "exit code 3"
    assert exit_reason(0) == "exit code 0"
    assert exit_reason(-200) == "signal 200"


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_s"):
        RestartBackoff(base_s=1.0, max_s=0.5)
    with pytest.raises(ValueError, match="base_s"):
        RestartBackoff(base_s=0.0)
