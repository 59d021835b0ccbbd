"""Unit tests for the restart policy (cloudburst_management.supervision.RestartPolicy)."""

from __future__ import annotations

import pytest
from cloudburst_management.supervision import RestartPolicy
from cloudburst_protocol.config import EXIT_CONFIG


def test_delays_double_and_are_capped() -> None:
    """Each quick failure doubles the delay until it reaches max_delay_s."""
    policy = RestartPolicy(max_restarts=10, window_s=100.0, base_delay_s=0.1, max_delay_s=2.0)
    delays = [policy.on_exit(float(t)) for t in range(8)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0])


def test_default_policy_first_delay_is_base() -> None:
    """The default policy restarts the first failure after base_delay_s."""
    policy = RestartPolicy()
    assert policy.on_exit(0.0) == pytest.approx(policy.base_delay_s)


def test_gives_up_after_max_restarts_within_window() -> None:
    """max_restarts failures are restarted; one more within the window gives up (None)."""
    policy = RestartPolicy(max_restarts=3, window_s=30.0, base_delay_s=0.1, max_delay_s=2.0)
    assert policy.on_exit(0.0) is not None
    assert policy.on_exit(1.0) is not None
    assert policy.on_exit(2.0) is not None
    assert policy.on_exit(3.0) is None
    # Still in a crash loop: it stays given up.
    assert policy.on_exit(4.0) is None


def test_old_failures_are_forgotten() -> None:
    """Failures older than the window no longer count: the delay starts over from base."""
    policy = RestartPolicy(max_restarts=2, window_s=10.0, base_delay_s=0.5, max_delay_s=8.0)
    assert policy.on_exit(0.0) == pytest.approx(0.5)
    assert policy.on_exit(1.0) == pytest.approx(1.0)
    # Both earlier failures are more than 10 s old now.
    assert policy.on_exit(20.0) == pytest.approx(0.5)
    assert policy.on_exit(21.0) == pytest.approx(1.0)
    assert policy.on_exit(22.0) is None


def test_sliding_window_forgets_only_expired_failures() -> None:
    """Only failures older than window_s drop out; recent ones still count."""
    policy = RestartPolicy(max_restarts=2, window_s=10.0, base_delay_s=1.0, max_delay_s=100.0)
    assert policy.on_exit(0.0) == pytest.approx(1.0)
    assert policy.on_exit(8.0) == pytest.approx(2.0)
    # t=0 has expired (12 - 0 >= 10) but t=8 has not: two failures in the window.
    assert policy.on_exit(12.0) == pytest.approx(2.0)
    # t=8 and t=12 are still in the window: a third gives up.
    assert policy.on_exit(13.0) is None


def test_failure_exactly_window_old_is_forgotten() -> None:
    """A failure exactly window_s seconds old is outside the window."""
    policy = RestartPolicy(max_restarts=1, window_s=10.0, base_delay_s=0.25, max_delay_s=1.0)
    assert policy.on_exit(0.0) == pytest.approx(0.25)
    assert policy.on_exit(10.0) == pytest.approx(0.25)


def test_an_exit_saying_restarting_cannot_help_is_given_up_at_once() -> None:
    """A service that exits with EXIT_CONFIG (e.g. a data directory of another version) is
    marked failed on its first exit, not restarted into a crash loop."""
    policy = RestartPolicy()
    assert policy.on_exit(0.0, EXIT_CONFIG) is None
    assert RestartPolicy().on_exit(0.0, 1) is not None
