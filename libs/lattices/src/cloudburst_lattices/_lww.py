"""Last-writer-wins register."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self, final

from ._errors import LatticeTypeError
from ._frozen import check_bytes, check_int64

__all__ = ["LWW"]


@final
@dataclass(frozen=True, slots=True)
class LWW:
    """Last-writer-wins register holding an opaque ``bytes`` payload.

    Merge keeps the pair with the larger ``(timestamp, value)``: the larger timestamp wins,
    and on equal timestamps the lexicographically larger ``value`` wins, so the result never
    depends on argument order.

    ``timestamp`` must fit in a signed 64-bit integer.
    """

    timestamp: int
    value: bytes

    def __post_init__(self) -> None:
        check_int64(self.timestamp, "LWW.timestamp")
        check_bytes(self.value, "LWW.value")

    def merge(self, other: Self) -> Self:
        """Return the winner of ``self`` and ``other`` (the larger ``(timestamp, value)``)."""
        if type(other) is not type(self):
            raise LatticeTypeError(f"cannot merge LWW with {type(other).__name__}")
        if (other.timestamp, other.value) > (self.timestamp, self.value):
            return other
        return self
