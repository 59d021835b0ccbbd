"""Causal lattices: Anna merge semantics, version antichains and dependency merging."""

from __future__ import annotations

import pytest
from cloudburst_lattices import (
    Causality,
    LatticeTypeError,
    MultiKeyCausal,
    SingleKeyCausal,
    VectorClock,
)
from hypothesis import given

from .lattice_strategies import payload_sets, vclock_pairs


def vc(**counters: int) -> VectorClock:
    """Shorthand for a vector clock literal."""
    return VectorClock(counters)


@given(vclock_pairs(), payload_sets, payload_sets)
def test_single_key_pairwise_merge_follows_anna_rule(
    pair: tuple[VectorClock, VectorClock, Causality], xs: frozenset[bytes], ys: frozenset[bytes]
) -> None:
    """Dominating clock wins; equal clocks union values; concurrent merge clocks and union."""
    ca, cb, relation = pair
    a, b = SingleKeyCausal(ca, xs), SingleKeyCausal(cb, ys)
    joined = a.merge(b)
    if relation is Causality.AFTER:
        assert joined == a
    elif relation is Causality.BEFORE:
        assert joined == b
    else:
        assert joined.clock == ca.merge(cb)
        assert joined.values == xs | ys
    if relation is Causality.EQUAL:
        assert joined == SingleKeyCausal(ca, xs | ys)


def test_overwritten_value_is_not_resurrected() -> None:
    """A value causally overwritten by a later write stays gone in every merge order."""
    a = SingleKeyCausal(vc(x=1), {b"vx"})
    z = SingleKeyCausal(vc(z=1), {b"vz"})
    y = SingleKeyCausal(vc(y=1, z=1), {b"vy"})  # y saw z and overwrote it
    left = a.merge(z).merge(y)
    right = a.merge(z.merge(y))
    assert left == right
    assert left.values == {b"vx", b"vy"}
    assert left.clock == vc(x=1, y=1, z=1)
    assert left.versions == ((vc(x=1), frozenset({b"vx"})), (vc(y=1, z=1), frozenset({b"vy"})))


def test_from_versions_normalises_to_antichain() -> None:
    """from_versions combines equal clocks and drops strictly dominated versions."""
    built = SingleKeyCausal.from_versions(
        [(vc(a=1), [b"old"]), (vc(a=2), [b"new"]), (vc(b=1), [b"x"]), (vc(b=1), [b"y"])]
    )
    assert built.versions == ((vc(a=2), frozenset({b"new"})), (vc(b=1), frozenset({b"x", b"y"})))
    merged = SingleKeyCausal(vc(a=1), {b"old"}).merge(SingleKeyCausal(vc(a=2), {b"new"}))
    merged = merged.merge(SingleKeyCausal(vc(b=1), {b"x"})).merge(SingleKeyCausal(vc(b=1), {b"y"}))
    assert built == merged


def test_bottom_causal_values() -> None:
    """The default causal values are empty and act as the merge identity."""
    assert SingleKeyCausal() == SingleKeyCausal.from_versions([])
    assert SingleKeyCausal().versions == ()
    some = SingleKeyCausal(vc(a=1), {b"v"})
    assert SingleKeyCausal().merge(some) == some
    assert MultiKeyCausal() == MultiKeyCausal.from_versions([])
    assert MultiKeyCausal().dependencies == {}


def test_tombstone_version_with_no_values_is_kept() -> None:
    """A version with a clock but no values still overwrites older values."""
    old = SingleKeyCausal(vc(a=1), {b"v"})
    tombstone = SingleKeyCausal(vc(a=2), frozenset())
    assert old.merge(tombstone) == tombstone
    assert old.merge(tombstone).values == frozenset()


def test_multi_key_dominating_clock_takes_its_dependencies() -> None:
    """When one clock strictly dominates, its dependencies replace the other's."""
    old = MultiKeyCausal(vc(a=1), {"k": vc(q=5)}, {b"old"})
    new = MultiKeyCausal(vc(a=2), {"j": vc(q=1)}, {b"new"})
    assert old.merge(new) == new
    assert new.merge(old).dependencies == {"j": vc(q=1)}


def test_multi_key_equal_clocks_merge_dependencies_keywise() -> None:
    """Equal clocks: values unioned and dependency clocks merged pointwise per key."""
    a = MultiKeyCausal(vc(a=1), {"k": vc(p=2), "j": vc(p=1)}, {b"x"})
    b = MultiKeyCausal(vc(a=1), {"k": vc(q=3)}, {b"y"})
    joined = a.merge(b)
    assert joined.clock == vc(a=1)
    assert joined.values == {b"x", b"y"}
    assert joined.dependencies == {"k": vc(p=2, q=3), "j": vc(p=1)}
    assert len(joined.versions) == 1


def test_multi_key_concurrent_clocks_merge_everything() -> None:
    """Concurrent clocks: merged clock, union of values, keywise-merged dependencies."""
    a = MultiKeyCausal(vc(a=1), {"k": vc(p=2)}, {b"x"})
    b = MultiKeyCausal(vc(b=1), {"k": vc(p=1, q=1)}, {b"y"})
    joined = a.merge(b)
    assert joined == b.merge(a)
    assert joined.clock == vc(a=1, b=1)
    assert joined.values == {b"x", b"y"}
    assert joined.dependencies == {"k": vc(p=2, q=1)}


def test_empty_dependency_clocks_are_dropped() -> None:
    """A dependency on the empty clock is the same as no dependency."""
    assert MultiKeyCausal(vc(a=1), {"k": VectorClock()}) == MultiKeyCausal(vc(a=1), {})


def test_causal_types_do_not_mix() -> None:
    """Merging SingleKeyCausal with MultiKeyCausal raises LatticeTypeError."""
    with pytest.raises(LatticeTypeError):
        SingleKeyCausal().merge(MultiKeyCausal())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "build",
    [
        lambda: SingleKeyCausal({"a": 1}, {b"v"}),  # type: ignore[arg-type]
        lambda: SingleKeyCausal(vc(a=1), b"v"),  # type: ignore[arg-type]
        lambda: SingleKeyCausal(vc(a=1), {"v"}),  # type: ignore[arg-type]
        lambda: MultiKeyCausal(vc(a=1), {"k": {"a": 1}}),  # type: ignore[dict-item]
        lambda: MultiKeyCausal(vc(a=1), {1: vc(a=1)}),  # type: ignore[dict-item]
        lambda: SingleKeyCausal.from_versions([(vc(a=1), [1])]),  # type: ignore[list-item]
    ],
)
def test_invalid_causal_values_are_rejected(build: object) -> None:
    """Non-clock clocks, non-bytes values and non-str dependency keys raise TypeError."""
    assert callable(build)
    with pytest.raises(TypeError):
        build()
