"""Algebraic laws of every lattice type: ACI merge, upper bounds, deterministic tie-breaks."""

from __future__ import annotations

import pytest
from cloudburst_lattices import (
    LWW,
    MapLattice,
    MaxLattice,
    MultiKeyCausal,
    OrderedSetLattice,
    PriorityLattice,
    SetLattice,
    SingleKeyCausal,
    VectorClock,
    merge,
)
from hypothesis import given
from hypothesis import strategies as st

from .lattice_strategies import (
    MERGEABLE,
    lwws,
    maxes,
    multi_keys,
    ordered_sets,
    payloads,
    priorities,
    sets,
    single_keys,
    typed_maps,
    vclocks,
)

TYPE_NAMES = sorted(MERGEABLE)


@pytest.mark.parametrize("name", TYPE_NAMES)
@given(data=st.data())
def test_merge_is_associative(name: str, data: st.DataObject) -> None:
    """(a ⊔ b) ⊔ c == a ⊔ (b ⊔ c) for every lattice type."""
    strategy = MERGEABLE[name]
    a, b, c = data.draw(strategy), data.draw(strategy), data.draw(strategy)
    assert merge(merge(a, b), c) == merge(a, merge(b, c))


@pytest.mark.parametrize("name", TYPE_NAMES)
@given(data=st.data())
def test_merge_is_commutative(name: str, data: st.DataObject) -> None:
    """a ⊔ b == b ⊔ a (and hashes agree) for every lattice type."""
    strategy = MERGEABLE[name]
    a, b = data.draw(strategy), data.draw(strategy)
    assert merge(a, b) == merge(b, a)
    assert hash(merge(a, b)) == hash(merge(b, a))


@pytest.mark.parametrize("name", TYPE_NAMES)
@given(data=st.data())
def test_merge_is_idempotent(name: str, data: st.DataObject) -> None:
    """a ⊔ a == a for every lattice type."""
    a = data.draw(MERGEABLE[name])
    assert merge(a, a) == a


@pytest.mark.parametrize("name", TYPE_NAMES)
@given(data=st.data())
def test_merge_is_least_upper_bound_in_lattice_order(name: str, data: st.DataObject) -> None:
    """a ≤ a ⊔ b and b ≤ a ⊔ b in the induced order (x ≤ y iff x ⊔ y == y)."""
    strategy = MERGEABLE[name]
    a, b = data.draw(strategy), data.draw(strategy)
    joined = merge(a, b)
    assert merge(a, joined) == joined
    assert merge(b, joined) == joined
    assert type(joined) is type(a)


@given(lwws, lwws)
def test_lww_merge_keeps_the_largest_timestamp_then_value(a: LWW, b: LWW) -> None:
    """LWW merge returns the input with the larger (timestamp, value)."""
    joined = a.merge(b)
    assert joined in (a, b)
    assert (joined.timestamp, joined.value) == max((a.timestamp, a.value), (b.timestamp, b.value))


@given(st.integers(-5, 5), payloads, payloads)
def test_lww_equal_timestamps_tie_break_on_value(ts: int, x: bytes, y: bytes) -> None:
    """On equal timestamps the larger value wins whatever the argument order."""
    assert LWW(ts, x).merge(LWW(ts, y)) == LWW(ts, max(x, y))
    assert LWW(ts, y).merge(LWW(ts, x)) == LWW(ts, max(x, y))


@given(sets, sets)
def test_set_merge_is_union(a: SetLattice, b: SetLattice) -> None:
    """SetLattice merge is the union, a superset of both inputs."""
    assert a.merge(b).elements == a.elements | b.elements


@given(ordered_sets, ordered_sets)
def test_ordered_set_merge_is_sorted_union(a: OrderedSetLattice, b: OrderedSetLattice) -> None:
    """OrderedSetLattice merge is the sorted, duplicate-free union of both inputs."""
    assert a.merge(b).elements == tuple(sorted(set(a.elements) | set(b.elements)))


@given(maxes, maxes)
def test_max_merge_is_maximum(a: MaxLattice, b: MaxLattice) -> None:
    """MaxLattice merge keeps the larger value."""
    assert a.merge(b).value == max(a.value, b.value)


@given(priorities, priorities)
def test_priority_merge_keeps_lowest_priority(a: PriorityLattice, b: PriorityLattice) -> None:
    """PriorityLattice merge keeps the lower priority, ties broken by the larger value."""
    joined = a.merge(b)
    assert joined.priority == min(a.priority, b.priority)
    assert joined in (a, b)
    if a.priority == b.priority:
        assert joined.value == max(a.value, b.value)


@given(vclocks, vclocks)
def test_vector_clock_merge_is_pointwise_max(a: VectorClock, b: VectorClock) -> None:
    """VectorClock merge is the pointwise max and dominates both inputs."""
    joined = a.merge(b)
    for node in set(a.clock) | set(b.clock):
        assert joined.get(node) == max(a.get(node), b.get(node))
    assert joined.dominates(a)
    assert joined.dominates(b)


@given(typed_maps, typed_maps)
def test_map_merge_is_keywise(a: MapLattice, b: MapLattice) -> None:
    """MapLattice merge keeps every key and merges values present on both sides."""
    joined = a.merge(b)
    assert set(joined.entries) == set(a.entries) | set(b.entries)
    for key, value in joined.entries.items():
        if key in a.entries and key in b.entries:
            assert value == merge(a.entries[key], b.entries[key])
        else:
            assert value == (a.entries[key] if key in a.entries else b.entries[key])


@given(single_keys, single_keys)
def test_single_key_causal_merge_is_upper_bound(a: SingleKeyCausal, b: SingleKeyCausal) -> None:
    """Merged causal clock dominates both clocks; values come from the inputs."""
    joined = a.merge(b)
    assert joined.clock == a.clock.merge(b.clock)
    assert joined.values <= a.values | b.values


@given(multi_keys, multi_keys)
def test_multi_key_causal_merge_is_upper_bound(a: MultiKeyCausal, b: MultiKeyCausal) -> None:
    """Merged multi-key clock dominates both clocks; values and dependencies come from inputs."""
    joined = a.merge(b)
    assert joined.clock == a.clock.merge(b.clock)
    assert joined.values <= a.values | b.values
    for key, clock in joined.dependencies.items():
        bound = a.dependencies.get(key, VectorClock()).merge(b.dependencies.get(key, VectorClock()))
        assert bound.dominates(clock)
