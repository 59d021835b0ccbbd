"""Vector clocks and the causality relation between them."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self, cast, final

from ._errors import LatticeTypeError
from ._frozen import UINT64_MAX, FrozenMap, check_int, check_str

__all__ = ["Causality", "VectorClock"]


class Causality(enum.Enum):
    """How one vector clock relates to another (``a.compare(b)``)."""

    BEFORE = "before"
    """``a`` happened before ``b``: ``b`` strictly dominates ``a``."""
    AFTER = "after"
    """``a`` happened after ``b``: ``a`` strictly dominates ``b``."""
    EQUAL = "equal"
    """The clocks are identical."""
    CONCURRENT = "concurrent"
    """Neither clock dominates the other."""


_EMPTY: FrozenMap[int] = FrozenMap()


@final
@dataclass(frozen=True, slots=True)
class VectorClock:
    """A vector clock: a map from node id (``str``) to a counter in ``[0, 2**64)``.

    Entries with counter ``0`` are equivalent to missing entries and are dropped on
    construction, so clocks are equal and hash equal regardless of construction order or
    explicit zeros. ``clock`` is an immutable, key-sorted mapping. Merge is the pointwise max.
    """

    clock: Mapping[str, int] = _EMPTY

    def __post_init__(self) -> None:
        if not isinstance(self.clock, Mapping):
            raise TypeError(f"VectorClock.clock must be a Mapping, got {type(self.clock)}")
        entries = {
            check_str(node, "VectorClock node"): check_int(
                counter, f"VectorClock counter for {node!r}", 0, UINT64_MAX
            )
            for node, counter in self.clock.items()
        }
        object.__setattr__(
            self, "clock", FrozenMap({node: c for node, c in entries.items() if c != 0})
        )

    @classmethod
    def _from_sorted(cls, items: tuple[tuple[str, int], ...]) -> Self:
        new = object.__new__(cls)
        object.__setattr__(new, "clock", FrozenMap.from_sorted(items))
        return new

    @property
    def sorted_items(self) -> tuple[tuple[str, int], ...]:
        """The non-zero ``(node, counter)`` pairs in ascending node order.

        Tuples of this form are totally ordered; this library uses them as a canonical,
        deterministic order on clocks (it is NOT the causal order).
        """
        return cast(FrozenMap[int], self.clock).sorted_items

    def get(self, node: str) -> int:
        """Return the counter for ``node`` (``0`` if absent)."""
        return self.clock.get(node, 0)

    def increment(self, node: str) -> VectorClock:
        """Return a copy of this clock with ``node``'s counter increased by one."""
        check_str(node, "VectorClock node")
        counter = self.get(node) + 1
        if counter > UINT64_MAX:
            raise OverflowError(f"VectorClock counter for {node!r} would exceed 2**64 - 1")
        items = dict(self.sorted_items)
        items[node] = counter
        return VectorClock._from_sorted(tuple(sorted(items.items())))

    def merge(self, other: Self) -> Self:
        """Return the pointwise maximum of ``self`` and ``other``."""
        if type(other) is not type(self):
            raise LatticeTypeError(f"cannot merge VectorClock with {type(other).__name__}")
        if self.dominates(other):
            return self
        if other.dominates(self):
            return other
        merged = dict(self.sorted_items)
        for node, counter in other.sorted_items:
            if counter > merged.get(node, 0):
                merged[node] = counter
        return self._from_sorted(tuple(sorted(merged.items())))

    def dominates(self, other: VectorClock) -> bool:
        """Return ``True`` if ``self >= other`` pointwise (every counter at least as large)."""
        mine = self.clock
        return all(mine.get(node, 0) >= counter for node, counter in other.sorted_items)

    def compare(self, other: VectorClock) -> Causality:
        """Return the causal relation of ``self`` to ``other``.

        ``BEFORE`` if ``other`` strictly dominates ``self``, ``AFTER`` if ``self`` strictly
        dominates ``other``, ``EQUAL`` if identical, otherwise ``CONCURRENT``.
        """
        ge = self.dominates(other)
        le = other.dominates(self)
        if ge and le:
            return Causality.EQUAL
        if ge:
            return Causality.AFTER
        if le:
            return Causality.BEFORE
        return Causality.CONCURRENT
