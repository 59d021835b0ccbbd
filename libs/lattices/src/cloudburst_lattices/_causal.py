"""Causal lattices: ``SingleKeyCausal`` and ``MultiKeyCausal`` (Anna-style causal consistency).

Why versions
------------
The textbook Anna rule on a flat ``(clock, values)`` pair -- "a strictly dominating clock
wins; equal or concurrent clocks merge clocks and union values" -- is commutative and
idempotent but NOT associative. With writes ``a = ({x:1}, {vx})``, ``z = ({z:1}, {vz})`` and
``y = ({y:1, z:1}, {vy})`` (``y`` overwrote ``z``)::

    (a ⊔ z) ⊔ y = ({x:1, y:1, z:1}, {vx, vz, vy})   # the overwritten vz resurrects
    a ⊔ (z ⊔ y) = ({x:1, y:1, z:1}, {vx, vy})

so replicas that see the same writes in different groupings can disagree. To be a real
lattice, each causal value keeps its *versions*: an antichain of vector clocks, each carrying
the values written under exactly that clock. Merge takes the union of both version sets,
combines versions with equal clocks (values unioned, dependencies merged) and drops every
version whose clock is strictly dominated by another one. That operation is associative,
commutative and idempotent.

For values built with the ordinary constructor (a single version) a pairwise merge behaves
exactly like the Anna rule: a strictly dominating clock wins; equal clocks union the values
(and merge dependencies); concurrent clocks give the merged clock and the union of the
values (and merged dependencies). The ``clock``, ``values`` and ``dependencies`` attributes
are always the merged view over all versions, so callers that never look at ``versions``
see the Anna semantics -- minus the resurrection anomaly above.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Self, final

from ._errors import LatticeTypeError
from ._frozen import FrozenMap, check_bytes, check_str
from ._vclock import VectorClock

__all__ = ["MultiKeyCausal", "SingleKeyCausal"]

_EMPTY_CLOCK = VectorClock()
_EMPTY_DEPS: FrozenMap[VectorClock] = FrozenMap()


def _checked_values(values: Iterable[bytes], what: str) -> frozenset[bytes]:
    if isinstance(values, (bytes, str)):
        kind = type(values).__name__
        raise TypeError(f"{what} must be a collection of bytes, not a single {kind}")
    result = frozenset(values)
    for value in result:
        check_bytes(value, f"{what} element")
    return result


def _checked_clock(clock: object, what: str) -> VectorClock:
    if not isinstance(clock, VectorClock):
        raise TypeError(f"{what} must be a VectorClock, got {type(clock).__name__}")
    return clock


def _checked_deps(deps: object, what: str) -> FrozenMap[VectorClock]:
    if not isinstance(deps, Mapping):
        raise TypeError(f"{what} must be a Mapping[str, VectorClock], got {type(deps)}")
    checked = {
        check_str(key, f"{what} key"): _checked_clock(clock, f"{what}[{key!r}]")
        for key, clock in deps.items()
    }
    return FrozenMap({key: clock for key, clock in checked.items() if clock != _EMPTY_CLOCK})


def _merge_deps(
    left: FrozenMap[VectorClock], right: FrozenMap[VectorClock]
) -> FrozenMap[VectorClock]:
    if not right:
        return left
    if not left:
        return right
    merged = dict(left)
    for key, clock in right.items():
        mine = merged.get(key)
        merged[key] = clock if mine is None else mine.merge(clock)
    return FrozenMap(merged)


def _maximal(clocks: Iterable[VectorClock]) -> list[VectorClock]:
    """Distinct clocks not strictly dominated by another one, in canonical order."""
    candidates = list(clocks)
    survivors = [
        clock
        for clock in candidates
        if not any(other is not clock and other.dominates(clock) for other in candidates)
    ]
    survivors.sort(key=_canonical_key)
    return survivors


def _canonical_key(clock: VectorClock) -> tuple[tuple[str, int], ...]:
    return clock.sorted_items


def _join(clocks: Iterable[VectorClock]) -> VectorClock:
    result = _EMPTY_CLOCK
    for clock in clocks:
        result = result.merge(clock)
    return result


SingleKeyVersion = tuple[VectorClock, frozenset[bytes]]
"""One version of a :class:`SingleKeyCausal`: a clock and the values written under it."""

MultiKeyVersion = tuple[VectorClock, FrozenMap[VectorClock], frozenset[bytes]]
"""One version of a :class:`MultiKeyCausal`: clock, dependencies and values."""


def _normalise_single(versions: Iterable[SingleKeyVersion]) -> tuple[SingleKeyVersion, ...]:
    grouped: dict[VectorClock, frozenset[bytes]] = {}
    for clock, values in versions:
        previous = grouped.get(clock)
        grouped[clock] = values if previous is None else previous | values
    return tuple(
        (clock, grouped[clock])
        for clock in _maximal(grouped)
        if clock != _EMPTY_CLOCK or grouped[clock]
    )


def _normalise_multi(versions: Iterable[MultiKeyVersion]) -> tuple[MultiKeyVersion, ...]:
    grouped: dict[VectorClock, tuple[FrozenMap[VectorClock], frozenset[bytes]]] = {}
    for clock, deps, values in versions:
        previous = grouped.get(clock)
        if previous is None:
            grouped[clock] = (deps, values)
        else:
            grouped[clock] = (_merge_deps(previous[0], deps), previous[1] | values)
    result: list[MultiKeyVersion] = []
    for clock in _maximal(grouped):
        deps, values = grouped[clock]
        if clock != _EMPTY_CLOCK or deps or values:
            result.append((clock, deps, values))
    return tuple(result)


@final
@dataclass(frozen=True, slots=True, init=False)
class SingleKeyCausal:
    """A causally consistent value of one key: vector clock plus a set of ``bytes`` values.

    ``SingleKeyCausal(clock, values)`` builds a single version. Merge (see the module notes):
    a strictly dominating clock wins; equal clocks union the values; concurrent clocks give
    the merged clock and the union of the values. Causally overwritten versions are dropped
    in every merge order, which makes this a true lattice.

    Attributes:
        clock: the join of the clocks of all versions.
        values: the union of the values of all versions (all causally concurrent siblings).
        versions: the canonical antichain of ``(clock, values)`` pairs, sorted by clock items.
            Equality and hashing are defined by ``versions``.
    """

    clock: VectorClock = field(compare=False)
    values: frozenset[bytes] = field(compare=False)
    versions: tuple[SingleKeyVersion, ...]

    def __init__(
        self, clock: VectorClock = _EMPTY_CLOCK, values: Iterable[bytes] = frozenset()
    ) -> None:
        version = (
            _checked_clock(clock, "SingleKeyCausal.clock"),
            _checked_values(values, "SingleKeyCausal.values"),
        )
        self._assign(_normalise_single([version]))

    @classmethod
    def from_versions(cls, versions: Iterable[tuple[VectorClock, Iterable[bytes]]]) -> Self:
        """Build from any number of ``(clock, values)`` versions, normalising them.

        Equal clocks are combined and strictly dominated versions are dropped, so the result
        equals the merge of the single-version values.
        """
        checked = [
            (
                _checked_clock(clock, "SingleKeyCausal version clock"),
                _checked_values(values, "SingleKeyCausal version values"),
            )
            for clock, values in versions
        ]
        new = object.__new__(cls)
        new._assign(_normalise_single(checked))
        return new

    def _assign(self, versions: tuple[SingleKeyVersion, ...]) -> None:
        values: frozenset[bytes] = frozenset().union(*(v for _, v in versions))
        object.__setattr__(self, "versions", versions)
        object.__setattr__(self, "clock", _join(c for c, _ in versions))
        object.__setattr__(self, "values", values)

    def merge(self, other: Self) -> Self:
        """Return the causal merge of ``self`` and ``other`` (see the class docstring)."""
        if type(other) is not type(self):
            raise LatticeTypeError(f"cannot merge SingleKeyCausal with {type(other).__name__}")
        if other.versions == self.versions:
            return self
        new = object.__new__(type(self))
        new._assign(_normalise_single(self.versions + other.versions))
        return new


@final
@dataclass(frozen=True, slots=True, init=False)
class MultiKeyCausal:
    """A causally consistent value that also records the keys it causally depends on.

    ``MultiKeyCausal(clock, dependencies, values)`` builds a single version; dependencies
    map a key to the vector clock of the version of that key this value depends on (empty
    dependency clocks are dropped). Merge follows :class:`SingleKeyCausal` for clock and
    values; when the clocks are equal or concurrent the dependencies are merged keywise
    (pointwise max of the clocks), and when one clock strictly dominates, its dependencies
    are taken.

    Attributes:
        clock: the join of the clocks of all versions.
        dependencies: the keywise merge of the dependencies of all versions.
        values: the union of the values of all versions.
        versions: the canonical antichain of ``(clock, dependencies, values)`` triples,
            sorted by clock items. Equality and hashing are defined by ``versions``.
    """

    clock: VectorClock = field(compare=False)
    dependencies: Mapping[str, VectorClock] = field(compare=False)
    values: frozenset[bytes] = field(compare=False)
    versions: tuple[MultiKeyVersion, ...]

    def __init__(
        self,
        clock: VectorClock = _EMPTY_CLOCK,
        dependencies: Mapping[str, VectorClock] = _EMPTY_DEPS,
        values: Iterable[bytes] = frozenset(),
    ) -> None:
        version = (
            _checked_clock(clock, "MultiKeyCausal.clock"),
            _checked_deps(dependencies, "MultiKeyCausal.dependencies"),
            _checked_values(values, "MultiKeyCausal.values"),
        )
        self._assign(_normalise_multi([version]))

    @classmethod
    def from_versions(
        cls,
        versions: Iterable[tuple[VectorClock, Mapping[str, VectorClock], Iterable[bytes]]],
    ) -> Self:
        """Build from any number of ``(clock, dependencies, values)`` versions, normalising.

        Equal clocks are combined and strictly dominated versions are dropped, so the result
        equals the merge of the single-version values.
        """
        checked: list[MultiKeyVersion] = [
            (
                _checked_clock(clock, "MultiKeyCausal version clock"),
                _checked_deps(deps, "MultiKeyCausal version dependencies"),
                _checked_values(values, "MultiKeyCausal version values"),
            )
            for clock, deps, values in versions
        ]
        new = object.__new__(cls)
        new._assign(_normalise_multi(checked))
        return new

    def _assign(self, versions: tuple[MultiKeyVersion, ...]) -> None:
        deps = _EMPTY_DEPS
        for _, version_deps, _ in versions:
            deps = _merge_deps(deps, version_deps)
        values: frozenset[bytes] = frozenset().union(*(v for _, _, v in versions))
        object.__setattr__(self, "versions", versions)
        object.__setattr__(self, "clock", _join(c for c, _, _ in versions))
        object.__setattr__(self, "dependencies", deps)
        object.__setattr__(self, "values", values)

    def merge(self, other: Self) -> Self:
        """Return the causal merge of ``self`` and ``other`` (see the class docstring)."""
        if type(other) is not type(self):
            raise LatticeTypeError(f"cannot merge MultiKeyCausal with {type(other).__name__}")
        if other.versions == self.versions:
            return self
        new = object.__new__(type(self))
        new._assign(_normalise_multi(self.versions + other.versions))
        return new
