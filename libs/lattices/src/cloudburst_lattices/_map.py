"""``MapLattice``, the ``Lattice`` union of every lattice type, and the generic ``merge``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self, TypeAlias, final

from ._causal import MultiKeyCausal, SingleKeyCausal
from ._errors import LatticeTypeError
from ._frozen import FrozenMap, check_str
from ._lww import LWW
from ._scalar import MaxLattice, PriorityLattice
from ._sets import OrderedSetLattice, SetLattice
from ._vclock import VectorClock

__all__ = ["LATTICE_TYPES", "Lattice", "MapLattice", "merge"]

_EMPTY: FrozenMap[Lattice] = FrozenMap()


@final
@dataclass(frozen=True, slots=True)
class MapLattice:
    """A map from ``str`` keys to lattices; merge is keywise.

    Keys present on one side only are kept as they are; keys present on both sides are
    merged with the value's own ``merge``. Values may be any :data:`Lattice`, including
    nested ``MapLattice`` values. ``entries`` is an immutable, key-sorted mapping, so maps are
    equal and hash equal regardless of construction order.

    Raises:
        LatticeTypeError: from ``merge`` when a key holds lattices of different types on
            the two sides (e.g. ``LWW`` vs ``SetLattice``). The check is symmetric, so the
            error does not depend on argument order.
    """

    entries: Mapping[str, Lattice] = _EMPTY

    def __post_init__(self) -> None:
        if not isinstance(self.entries, Mapping):
            raise TypeError(f"MapLattice.entries must be a Mapping, got {type(self.entries)}")
        checked: dict[str, Lattice] = {}
        for key, value in self.entries.items():
            if not isinstance(value, LATTICE_TYPES):
                raise TypeError(
                    f"MapLattice value for {key!r} must be a lattice, got {type(value).__name__}"
                )
            checked[check_str(key, "MapLattice key")] = value
        object.__setattr__(self, "entries", FrozenMap(checked))

    def merge(self, other: Self) -> Self:
        """Return the keywise merge of ``self`` and ``other``.

        Raises:
            LatticeTypeError: if a key holds different lattice types on the two sides.
        """
        if type(other) is not type(self):
            raise LatticeTypeError(f"cannot merge MapLattice with {type(other).__name__}")
        if not other.entries:
            return self
        if not self.entries:
            return other
        merged = dict(self.entries)
        for key, theirs in other.entries.items():
            mine = merged.get(key)
            if mine is None:
                merged[key] = theirs
            elif type(mine) is not type(theirs):
                names = sorted((type(mine).__name__, type(theirs).__name__))
                raise LatticeTypeError(
                    f"MapLattice key {key!r} holds different lattice types: "
                    f"{names[0]} and {names[1]}"
                )
            else:
                merged[key] = merge(mine, theirs)
        new = object.__new__(type(self))
        object.__setattr__(new, "entries", FrozenMap(merged))
        return new


Lattice: TypeAlias = (
    LWW
    | SetLattice
    | OrderedSetLattice
    | MaxLattice
    | PriorityLattice
    | VectorClock
    | MapLattice
    | SingleKeyCausal
    | MultiKeyCausal
)
"""Any lattice value this library can merge, store in a ``MapLattice`` and encode."""

LATTICE_TYPES: tuple[type[Lattice], ...] = (
    LWW,
    SetLattice,
    OrderedSetLattice,
    MaxLattice,
    PriorityLattice,
    VectorClock,
    MapLattice,
    SingleKeyCausal,
    MultiKeyCausal,
)
"""Every concrete lattice class, for ``isinstance`` checks."""


def merge(left: Lattice, right: Lattice) -> Lattice:
    """Merge two lattices of the same type whose static type is only known as ``Lattice``.

    Raises:
        LatticeTypeError: if ``left`` and ``right`` are of different lattice types.
    """
    if type(left) is not type(right):
        names = sorted((type(left).__name__, type(right).__name__))
        raise LatticeTypeError(f"cannot merge different lattice types {names[0]} and {names[1]}")
    # The runtime check above guarantees both sides have the same concrete type.
    return left.merge(right)  # type: ignore[arg-type]
