"""Private helpers: an immutable, hashable, key-sorted mapping and argument validation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar, final

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "UINT64_MAX",
    "FrozenMap",
    "check_bytes",
    "check_int",
    "check_int64",
    "check_str",
]

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1

_V = TypeVar("_V")


@final
class FrozenMap(Mapping[str, _V], Generic[_V]):
    """Immutable mapping from ``str`` keys, stored as a key-sorted tuple of pairs.

    Equality and hashing depend only on the contents, never on construction order. Compares
    equal to any other ``Mapping`` with the same items (like ``dict`` does).
    """

    __slots__ = ("_dict", "_hash", "_items")

    _items: tuple[tuple[str, _V], ...]
    _dict: dict[str, _V]
    _hash: int | None

    def __init__(self, items: Mapping[str, _V] | Iterable[tuple[str, _V]] = ()) -> None:
        pairs = dict(items.items() if isinstance(items, Mapping) else items)
        self._dict = pairs
        self._items = tuple(sorted(pairs.items(), key=_first))
        self._hash = None

    @classmethod
    def from_sorted(cls, items: tuple[tuple[str, _V], ...]) -> FrozenMap[_V]:
        """Build from pairs already sorted by unique key (trusted, no checks)."""
        new: FrozenMap[_V] = object.__new__(cls)
        new._items = items
        new._dict = dict(items)
        new._hash = None
        return new

    @property
    def sorted_items(self) -> tuple[tuple[str, _V], ...]:
        """The ``(key, value)`` pairs in ascending key order."""
        return self._items

    def __getitem__(self, key: str) -> _V:
        return self._dict[key]

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._items == other._items
        if isinstance(other, Mapping):
            return self._dict == dict(other.items())
        return NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(self._items)
        return self._hash

    def __repr__(self) -> str:
        return repr(dict(self._items))

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (self._items,))


def _first(pair: tuple[str, object]) -> str:
    return pair[0]


def check_bytes(value: object, what: str) -> bytes:
    """Return ``value`` if it is ``bytes``, else raise ``TypeError``."""
    if not isinstance(value, bytes):
        raise TypeError(f"{what} must be bytes, got {type(value).__name__}")
    return value


def check_str(value: object, what: str) -> str:
    """Return ``value`` if it is a ``str`` encodable as UTF-8, else raise."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} must be encodable as UTF-8: {value!r}") from None
    return value


def check_int(value: object, what: str, low: int, high: int) -> int:
    """Return ``value`` if it is an ``int`` (not ``bool``) in ``[low, high]``, else raise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be int, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{what} must be in [{low}, {high}], got {value}")
    return value


def check_int64(value: object, what: str) -> int:
    """Return ``value`` if it is an ``int`` that fits in a signed 64-bit integer."""
    return check_int(value, what, INT64_MIN, INT64_MAX)
