"""Hypothesis strategies for every lattice type (shared by the lattice test modules)."""

from __future__ import annotations

from cloudburst_lattices import (
    LWW,
    Causality,
    Lattice,
    MapLattice,
    MaxLattice,
    MultiKeyCausal,
    OrderedSetLattice,
    PriorityLattice,
    SetLattice,
    SingleKeyCausal,
    VectorClock,
)
from hypothesis import strategies as st

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

# Small pools make ties, duplicates, equal and dominated clocks common.
payloads: st.SearchStrategy[bytes] = st.sampled_from(
    [b"", b"a", b"b", b"ab", b"\x00", b"\xff"]
) | st.binary(max_size=4)
int64s: st.SearchStrategy[int] = st.integers(-3, 3) | st.integers(INT64_MIN, INT64_MAX)
nodes: st.SearchStrategy[str] = st.sampled_from(["a", "b", "c", "d"]) | st.text(max_size=3)
keys: st.SearchStrategy[str] = st.sampled_from(["k1", "k2", "k3"]) | st.text(max_size=3)
counters: st.SearchStrategy[int] = st.integers(0, 3) | st.integers(0, (1 << 64) - 1)

payload_sets: st.SearchStrategy[frozenset[bytes]] = st.frozensets(payloads, max_size=4)

lwws: st.SearchStrategy[LWW] = st.builds(LWW, int64s, payloads)
sets: st.SearchStrategy[SetLattice] = st.builds(SetLattice, payload_sets)
ordered_sets: st.SearchStrategy[OrderedSetLattice] = st.builds(
    OrderedSetLattice, st.lists(payloads, max_size=5).map(tuple)
)
maxes: st.SearchStrategy[MaxLattice] = st.builds(MaxLattice, int64s)
priorities: st.SearchStrategy[PriorityLattice] = st.builds(PriorityLattice, int64s, payloads)
vclocks: st.SearchStrategy[VectorClock] = st.builds(
    VectorClock, st.dictionaries(nodes, counters, max_size=4)
)
# Counters far enough from 2**64 - 1 that a few increments cannot overflow.
incrementable_vclocks: st.SearchStrategy[VectorClock] = st.builds(
    VectorClock,
    st.dictionaries(nodes, st.integers(0, 3) | st.integers(0, (1 << 64) - 8), max_size=4),
)
small_vclocks: st.SearchStrategy[VectorClock] = st.builds(
    VectorClock, st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(0, 2), max_size=3)
)


@st.composite
def vclock_pairs(draw: st.DrawFn) -> tuple[VectorClock, VectorClock, Causality]:
    """Draw ``(a, b, expected a.compare(b))`` with equal, ordered and concurrent pairs."""
    base = draw(incrementable_vclocks)
    kind = draw(st.sampled_from(["equal", "before", "after", "concurrent"]))
    if kind == "equal":
        # Rebuild from a shuffled dict with explicit zeros: still the same clock.
        items = draw(st.permutations(list(base.clock.items())))
        return base, VectorClock({**dict(items), "zero-entry": 0}), Causality.EQUAL
    if kind in ("before", "after"):
        later = base.merge(draw(incrementable_vclocks)).increment(draw(nodes))
        if kind == "before":
            return base, later, Causality.BEFORE
        return later, base, Causality.AFTER
    first, second = draw(st.lists(nodes, min_size=2, max_size=2, unique=True))
    left = base.increment(first)
    right = base.increment(second)
    # Optional extra progress that keeps them concurrent: more events on their own nodes.
    for _ in range(draw(st.integers(0, 2))):
        left = left.increment(first)
    return left, right, Causality.CONCURRENT


single_keys: st.SearchStrategy[SingleKeyCausal] = st.builds(
    SingleKeyCausal, small_vclocks, payload_sets
) | st.builds(
    SingleKeyCausal.from_versions, st.lists(st.tuples(small_vclocks, payload_sets), max_size=4)
)

dependency_maps: st.SearchStrategy[dict[str, VectorClock]] = st.dictionaries(
    st.sampled_from(["k1", "k2", "k3"]), small_vclocks, max_size=3
)
multi_keys: st.SearchStrategy[MultiKeyCausal] = st.builds(
    MultiKeyCausal, small_vclocks, dependency_maps, payload_sets
) | st.builds(
    MultiKeyCausal.from_versions,
    st.lists(st.tuples(small_vclocks, dependency_maps, payload_sets), max_size=4),
)


def _typed_maps(depth: int) -> st.SearchStrategy[MapLattice]:
    """Maps whose key decides the value type, so any two of them merge without conflicts."""
    optional: dict[str, st.SearchStrategy[Lattice]] = {
        "lww": lwws,
        "set": sets,
        "max": maxes,
        "vc": small_vclocks,
        "causal": single_keys,
    }
    if depth > 0:
        optional["nested"] = _typed_maps(depth - 1)
    return st.fixed_dictionaries({}, optional=optional).map(MapLattice)


typed_maps: st.SearchStrategy[MapLattice] = _typed_maps(2)

scalar_lattices: st.SearchStrategy[Lattice] = st.one_of(
    lwws, sets, ordered_sets, maxes, priorities, vclocks, single_keys, multi_keys
)

any_lattices: st.SearchStrategy[Lattice] = st.recursive(
    scalar_lattices,
    lambda children: st.builds(MapLattice, st.dictionaries(keys, children, max_size=3)),
    max_leaves=8,
)

MERGEABLE: dict[str, st.SearchStrategy[Lattice]] = {
    "LWW": lwws,
    "SetLattice": sets,
    "OrderedSetLattice": ordered_sets,
    "MaxLattice": maxes,
    "PriorityLattice": priorities,
    "VectorClock": vclocks,
    "MapLattice": typed_maps,
    "SingleKeyCausal": single_keys,
    "MultiKeyCausal": multi_keys,
}
"""One strategy per lattice type; any two draws from the same strategy can be merged."""
