"""Scalar lattices: ``MaxLattice`` and ``PriorityLattice``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self, final

from ._errors import LatticeTypeError
from ._frozen import check_bytes, check_int64

__all__ = ["MaxLattice", "PriorityLattice"]


@final
@dataclass(frozen=True, slots=True)
class MaxLattice:
    """An integer that only grows: merge takes the maximum.

    ``value`` must fit in a signed 64-bit integer.
    """

    value: int

    def __post_init__(self) -> None:
        check_int64(self.value, "MaxLattice.value")

    def merge(self, other: Self) -> Self:
        """Return whichever of ``self`` and ``other`` holds the larger value."""
        if type(other) is not type(self):
            raise LatticeTypeError(f"cannot merge MaxLattice with {type(other).__name__}")
        return other if other.value > self.value else self


@final
@dataclass(frozen=True, slots=True)
class PriorityLattice:
    """A ``bytes`` payload tagged with a priority where the LOWER priority wins.

    On equal priorities the lexicographically larger ``value`` wins, so merge commutes.
    ``priority`` must fit in a signed 64-bit integer.
    """

    priority: int
    value: bytes

    def __post_init__(self) -> None:
        check_int64(self.priority, "PriorityLattice.priority")
        check_bytes(self.value, "PriorityLattice.value")

    def merge(self, other: Self) -> Self:
        """Return the lower-priority pair, breaking ties by the larger value."""
        if type(other) is not type(self):
            raise LatticeTypeError(f"cannot merge PriorityLattice with {type(other).__name__}")
        if (-other.priority, other.value) > (-self.priority, self.value):
            return other
        return self
