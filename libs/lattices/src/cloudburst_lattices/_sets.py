"""Set lattices: ``SetLattice`` (unordered) and ``OrderedSetLattice`` (sorted tuple)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Self, final

from ._errors import LatticeTypeError
from ._frozen import check_bytes

__all__ = ["OrderedSetLattice", "SetLattice"]


def _checked_elements(elements: Iterable[bytes], what: str) -> frozenset[bytes]:
    if isinstance(elements, (bytes, str)):
        kind = type(elements).__name__
        raise TypeError(f"{what} must be a collection of bytes, not a single {kind}")
    result = frozenset(elements)
    for element in result:
        check_bytes(element, f"{what} element")
    return result


@final
@dataclass(frozen=True, slots=True)
class SetLattice:
    """A grow-only set of ``bytes``: merge is set union.

    Any iterable of ``bytes`` is accepted and stored as a ``frozenset``.
    """

    elements: frozenset[bytes] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "elements", _checked_elements(self.elements, "SetLattice"))

    def merge(self, other: Self) -> Self:
        """Return the union of ``self`` and ``other``."""
        if type(other) is not type(self):
            raise LatticeTypeError(f"cannot merge SetLattice with {type(other).__name__}")
        if other.elements <= self.elements:
            return self
        if self.elements <= other.elements:
            return other
        new = object.__new__(type(self))
        object.__setattr__(new, "elements", self.elements | other.elements)
        return new


@final
@dataclass(frozen=True, slots=True)
class OrderedSetLattice:
    """A grow-only set of ``bytes`` kept as a sorted, duplicate-free tuple.

    Any iterable of ``bytes`` is accepted; it is sorted (bytewise) and de-duplicated on
    construction, so equal sets compare and hash equal. Merge is the sorted union.
    """

    elements: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        unique = _checked_elements(self.elements, "OrderedSetLattice")
        object.__setattr__(self, "elements", tuple(sorted(unique)))

    def merge(self, other: Self) -> Self:
        """Return the sorted union of ``self`` and ``other``."""
        if type(other) is not type(self):
            raise LatticeTypeError(f"cannot merge OrderedSetLattice with {type(other).__name__}")
        union = set(self.elements)
        union.update(other.elements)
        if len(union) == len(self.elements):
            return self
        if len(union) == len(other.elements):
            return other
        new = object.__new__(type(self))
        object.__setattr__(new, "elements", tuple(sorted(union)))
        return new
