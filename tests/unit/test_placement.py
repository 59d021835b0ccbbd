"""Unit tests for executor placement (cloudburst_scheduler.placement.Placement)."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from cloudburst_scheduler.placement import LOAD_SLACK, ExecutorView, Placement


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


# -- locality ----------------------------------------------------------------------------------


def test_locality_wins_among_equally_loaded() -> None:
    """With equal load, the executor on the node holding the referenced data is chosen."""
    placement = Placement()
    views = [ExecutorView("a", 0, "n1"), ExecutorView("b", 0, "n2"), ExecutorView("c", 0, "n3")]
    assert {placement.choose(views, {"n2": 100}) for _ in range(6)} == {"b"}


def test_most_local_bytes_wins() -> None:
    """Among eligible executors, the node holding the most referenced bytes wins."""
    placement = Placement()
    views = [ExecutorView("a", 0, "n1"), ExecutorView("b", 0, "n2"), ExecutorView("c", 0, "n3")]
    local = {"n1": 50, "n2": 400, "n3": 399}
    assert {placement.choose(views, local) for _ in range(6)} == {"b"}


def test_locality_wins_within_load_slack() -> None:
    """An executor up to LOAD_SLACK busier than the least busy still wins on locality."""
    placement = Placement()
    views = [ExecutorView("idle", 0, "n1"), ExecutorView("local", LOAD_SLACK, "n2")]
    assert {placement.choose(views, {"n2": 10}) for _ in range(4)} == {"local"}


def test_executor_beyond_slack_not_chosen_for_locality() -> None:
    """An executor busier than LOAD_SLACK over the least busy loses despite holding the data."""
    placement = Placement()
    views = [
        ExecutorView("local", LOAD_SLACK + 1, "n2"),
        ExecutorView("idle", 0, "n1"),
        ExecutorView("mid", 1, "n3"),
    ]
    assert {placement.choose(views, {"n2": 10_000}) for _ in range(4)} == {"idle"}
    assert placement.rank(views, {"n2": 10_000}) == ["idle", "mid", "local"]


def test_least_busy_on_the_local_node() -> None:
    """On the node holding the data, the least busy executor is chosen."""
    placement = Placement()
    views = [
        ExecutorView("n2-busy", 1, "n2"),
        ExecutorView("n2-idle", 0, "n2"),
        ExecutorView("n1-idle", 0, "n1"),
    ]
    assert {placement.choose(views, {"n2": 10}) for _ in range(4)} == {"n2-idle"}


def test_local_ties_rotate() -> None:
    """Equally loaded executors on the same data-holding node take turns."""
    placement = Placement()
    views = [
        ExecutorView("x", 0, "n1"),
        ExecutorView("y", 0, "n1"),
        ExecutorView("other", 0, "n2"),
    ]
    chosen = [placement.choose(views, {"n1": 5}) for _ in range(6)]
    assert Counter(chosen) == {"x": 3, "y": 3}
    assert all(p != q for p, q in itertools.pairwise(chosen))


def test_no_local_data_means_least_busy() -> None:
    """With no referenced data cached (empty or zero sizes) the least busy executor wins."""
    placement = Placement()
    views = [ExecutorView("a", 1, "n1"), ExecutorView("b", 0, "n2")]
    for local in (None, {}, {"n1": 0, "n2": 0}, {"elsewhere": 500}):
        assert placement.choose(views, local) == "b"


def test_rank_lists_every_executor_best_first() -> None:
    """rank returns every executor once, the first being what choose would pick."""
    views = [
        ExecutorView("a", 0, "n1"),
        ExecutorView("b", 1, "n2"),
        ExecutorView("c", 3, "n3"),
        ExecutorView("d", 0, "n4"),
    ]
    ranked = Placement().rank(views, {"n2": 7, "n3": 99})
    assert ranked[0] == "b"
    assert sorted(ranked) == ["a", "b", "c", "d"]
    assert ranked[-1] == "c"
    assert Placement().rank([]) == []


# -- place -------------------------------------------------------------------------------------


def test_place_colocate_puts_every_function_on_chosen_executor() -> None:
    """colocate places the whole DAG on the one executor choose picks."""
    placement = Placement("colocate")
    views = [ExecutorView("a", 0, "n1"), ExecutorView("b", 0, "n2"), ExecutorView("c", 0, "n3")]
    assert placement.place(["f", "g", "h"], views, {"n3": 1}) == {"f": "c", "g": "c", "h": "c"}


def test_place_is_colocate_by_default() -> None:
    """The default policy is colocate."""
    placement = Placement()
    assert placement.policy == "colocate"
    views = [ExecutorView("a", 0), ExecutorView("b", 0)]
    assert len(set(placement.place(["f", "g"], views).values())) == 1


def test_place_spread_rotates_from_chosen_executor() -> None:
    """spread starts at the chosen executor and gives each next function the next id in turn."""
    placement = Placement("spread")
    views = [ExecutorView("c", 0, "n3"), ExecutorView("a", 0, "n1"), ExecutorView("b", 0, "n2")]
    placed = placement.place(["f1", "f2", "f3", "f4"], views, {"n2": 10})
    assert placed == {"f1": "b", "f2": "c", "f3": "a", "f4": "b"}


def test_place_spread_single_executor() -> None:
    """spread with one executor puts every function on it."""
    placed = Placement("spread").place(["f", "g"], [ExecutorView("only", 3)])
    assert placed == {"f": "only", "g": "only"}


@pytest.mark.parametrize("policy", ["colocate", "spread"])
def test_place_without_executors_is_empty(policy: str) -> None:
    """With no executors, place returns no assignment."""
    assert Placement(policy).place(["f"], []) == {}


def test_unknown_policy_rejected() -> None:
    """An unknown policy name raises ValueError naming it."""
    with pytest.raises(ValueError, match="'random'"):
        Placement("random")


def test_an_executor_running_an_overdue_call_is_never_chosen() -> None:
    """Placement skips executors whose user code runs past a call's deadline, however idle
    they look, and in spread placement too; with only such executors there is none."""
    for policy in ("colocate", "spread"):
        placement = Placement(policy)
        views = [ExecutorView("stuck", 0, overdue=True), ExecutorView("ok", 3)]
        assert {placement.choose(views) for _ in range(6)} == {"ok"}
        assert placement.rank(views) == ["ok"]
        assert set(placement.place(["f", "g"], views).values()) == {"ok"}
        assert placement.place(["f"], [ExecutorView("stuck", 0, overdue=True)]) == {}
