"""VectorClock construction, increment, dominates and compare semantics."""

from __future__ import annotations

import pytest
from cloudburst_lattices import Causality, VectorClock
from hypothesis import given

from .lattice_strategies import incrementable_vclocks, nodes, vclock_pairs, vclocks

_MIRROR = {
    Causality.BEFORE: Causality.AFTER,
    Causality.AFTER: Causality.BEFORE,
    Causality.EQUAL: Causality.EQUAL,
    Causality.CONCURRENT: Causality.CONCURRENT,
}


def test_zero_entries_are_equivalent_to_missing() -> None:
    """Explicit zero counters are dropped: equality, hash and get ignore them."""
    a = VectorClock({"n1": 1, "n2": 0})
    b = VectorClock({"n1": 1})
    assert a == b
    assert hash(a) == hash(b)
    assert dict(a.clock) == {"n1": 1}
    assert a.get("n2") == 0
    assert a.get("unknown") == 0


def test_construction_order_does_not_matter() -> None:
    """Clocks built from differently ordered mappings are equal and hash equal."""
    a = VectorClock({"b": 2, "a": 1})
    b = VectorClock({"a": 1, "b": 2})
    assert a == b
    assert hash(a) == hash(b)
    assert a.sorted_items == (("a", 1), ("b", 2))
    assert a.clock == {"a": 1, "b": 2}


def test_default_clock_is_empty() -> None:
    """VectorClock() is the bottom element, dominated by every clock."""
    empty = VectorClock()
    assert empty == VectorClock({})
    assert len(empty.clock) == 0
    assert VectorClock({"a": 3}).dominates(empty)
    assert empty.compare(VectorClock({"a": 1})) is Causality.BEFORE


def test_clock_mapping_is_read_only() -> None:
    """The clock mapping cannot be mutated through the public attribute."""
    clock = VectorClock({"a": 1})
    with pytest.raises(TypeError):
        clock.clock["a"] = 5  # type: ignore[index]


@pytest.mark.parametrize(
    ("mapping", "error"),
    [
        ({"a": -1}, ValueError),
        ({"a": 1 << 64}, ValueError),
        ({"a": 1.5}, TypeError),
        ({"a": True}, TypeError),
        ({1: 1}, TypeError),
        ({"\ud800": 1}, ValueError),
    ],
)
def test_invalid_clocks_are_rejected(mapping: dict[object, object], error: type[Exception]) -> None:
    """Negative, too-large, non-int counters and non-str or non-UTF-8 nodes are rejected."""
    with pytest.raises(error):
        VectorClock(mapping)  # type: ignore[arg-type]


@given(incrementable_vclocks, nodes)
def test_increment_bumps_only_one_node(clock: VectorClock, node: str) -> None:
    """increment(node) adds one to that node, leaves others and returns a later clock."""
    later = clock.increment(node)
    assert later.get(node) == clock.get(node) + 1
    for other in set(clock.clock) - {node}:
        assert later.get(other) == clock.get(other)
    assert clock.compare(later) is Causality.BEFORE


def test_increment_overflow_is_an_error() -> None:
    """Incrementing a counter at 2**64 - 1 raises OverflowError instead of wrapping."""
    with pytest.raises(OverflowError):
        VectorClock({"a": (1 << 64) - 1}).increment("a")


@given(vclock_pairs())
def test_compare_matches_constructed_relation(
    pair: tuple[VectorClock, VectorClock, Causality],
) -> None:
    """compare() recognises generated equal, before, after and concurrent pairs."""
    a, b, expected = pair
    assert a.compare(b) is expected


@given(vclock_pairs())
def test_compare_is_antisymmetric_on_constructed_pairs(
    pair: tuple[VectorClock, VectorClock, Causality],
) -> None:
    """a BEFORE b iff b AFTER a; EQUAL and CONCURRENT are symmetric."""
    a, b, _ = pair
    assert b.compare(a) is _MIRROR[a.compare(b)]


@given(vclocks, vclocks)
def test_compare_is_antisymmetric(a: VectorClock, b: VectorClock) -> None:
    """For arbitrary clocks, b.compare(a) is the mirror image of a.compare(b)."""
    assert b.compare(a) is _MIRROR[a.compare(b)]


@given(vclocks, vclocks)
def test_compare_is_consistent_with_dominates(a: VectorClock, b: VectorClock) -> None:
    """compare() is exactly determined by dominates() in both directions."""
    ge, le = a.dominates(b), b.dominates(a)
    expected = {
        (True, True): Causality.EQUAL,
        (True, False): Causality.AFTER,
        (False, True): Causality.BEFORE,
        (False, False): Causality.CONCURRENT,
    }[(ge, le)]
    assert a.compare(b) is expected
    assert (a.compare(b) is Causality.EQUAL) == (a == b)


@given(vclock_pairs())
def test_merge_of_pair_relates_to_inputs(pair: tuple[VectorClock, VectorClock, Causality]) -> None:
    """Merged clock dominates both; it equals the later one unless the pair is concurrent."""
    a, b, relation = pair
    joined = a.merge(b)
    assert joined.dominates(a)
    assert joined.dominates(b)
    if relation is Causality.CONCURRENT:
        assert joined.compare(a) is Causality.AFTER
        assert joined.compare(b) is Causality.AFTER
    else:
        assert joined in (a, b)
