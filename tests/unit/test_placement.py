"""Unit tests for executor placement (cloudburst_scheduler.placement.Placement.choose)."""

from __future__ import annotations

import itertools
from collections import Counter

from cloudburst_scheduler.placement import ExecutorView, Placement


def test_choose_none_when_no_executors() -> None:
    """With no executors there is nothing to choose."""
    assert Placement().choose([]) is None


def test_choose_single_executor() -> None:
    """A single executor is always chosen."""
    placement = Placement()
    views = [ExecutorView("only", 7)]
    assert [placement.choose(views) for _ in range(3)] == ["only"] * 3


def test_least_in_flight_wins() -> None:
    """The executor with the fewest calls in flight is chosen every time."""
    placement = Placement()
    views = [ExecutorView("busy", 5), ExecutorView("idle", 0), ExecutorView("mid", 2)]
    assert {placement.choose(views) for _ in range(10)} == {"idle"}


def test_ties_rotate_among_tied_executors() -> None:
    """Tied least-loaded executors share calls evenly; a busier one is never picked."""
    placement = Placement()
    views = [
        ExecutorView("c", 1),
        ExecutorView("a", 1),
        ExecutorView("busy", 4),
        ExecutorView("b", 1),
    ]
    chosen = [placement.choose(views) for _ in range(9)]
    assert Counter(chosen) == {"a": 3, "b": 3, "c": 3}
    # Consecutive calls never repeat the same executor while the tie lasts.
    assert all(x != y for x, y in itertools.pairwise(chosen))


def test_ties_cover_every_executor_within_one_round() -> None:
    """Over as many calls as there are tied executors, each one is chosen once."""
    placement = Placement()
    views = [ExecutorView(f"e{i}", 0) for i in range(5)]
    assert sorted(placement.choose(views) or "" for _ in range(5)) == [f"e{i}" for i in range(5)]


def test_choice_independent_of_input_order() -> None:
    """Two placements fed the same executors in different orders choose the same sequence."""
    views = [ExecutorView("x", 0), ExecutorView("y", 0), ExecutorView("z", 0)]
    first, second = Placement(), Placement()
    assert [first.choose(views) for _ in range(6)] == [
        second.choose(list(reversed(views))) for _ in range(6)
    ]
