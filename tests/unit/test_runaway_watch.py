"""Unit tests for the runaway-call decision (cloudburst_executor.runaway.RunawayWatch): what
user code is running at t in, actions out (overdue: stop taking calls; recovered; replace
the process); time is an argument."""

from __future__ import annotations

from cloudburst_executor.runaway import RunawayWatch, Running


def test_a_call_within_its_deadline_needs_nothing() -> None:
    watch = RunawayWatch(grace_s=2.0)
    assert watch.tick(5.0, Running("c1", deadline=10.0)) is None
    assert watch.tick(6.0, None) is None
    assert not watch.overdue


def test_past_its_deadline_the_executor_stops_taking_calls_then_is_replaced() -> None:
    """At the deadline: overdue (once). Still running a grace period later: replace."""
    watch = RunawayWatch(grace_s=2.0)
    running = Running("c1", deadline=10.0)
    assert watch.tick(9.9, running) is None
    assert watch.tick(10.1, running) == "overdue"
    assert watch.overdue
    assert watch.tick(11.0, running) is None
    assert watch.tick(12.0, running) is None
    assert watch.tick(12.2, running) == "replace"


def test_a_call_that_returns_within_the_grace_lets_the_executor_serve_again() -> None:
    watch = RunawayWatch(grace_s=2.0)
    watch.tick(10.5, Running("c1", deadline=10.0))
    assert watch.tick(11.0, None) == "recovered"
    assert not watch.overdue
    assert watch.tick(11.5, Running("c2", deadline=20.0)) is None


def test_the_next_overdue_call_gets_its_own_grace() -> None:
    watch = RunawayWatch(grace_s=2.0)
    assert watch.tick(10.5, Running("c1", deadline=10.0)) == "overdue"
    assert watch.tick(11.0, Running("c2", deadline=10.8)) == "overdue"
    assert watch.tick(12.9, Running("c2", deadline=10.8)) is None
    assert watch.tick(13.1, Running("c2", deadline=10.8)) == "replace"


def test_a_cancelled_call_is_overdue_at_once() -> None:
    watch = RunawayWatch(grace_s=1.0)
    assert watch.tick(1.0, Running("c1", deadline=100.0, cancelled=True)) == "overdue"
    assert watch.tick(2.5, Running("c1", deadline=100.0, cancelled=True)) == "replace"


def test_no_deadline_means_never_overdue() -> None:
    watch = RunawayWatch(grace_s=1.0)
    assert watch.tick(1e9, Running("c1", deadline=0.0)) is None
