"""Python values <-> stored lattices. Users never handle lattices: the runtime wraps a value
into one on write and unwraps it on read. What a value merges like is chosen by its type:

- anything else: last writer wins (``LWW``: the latest write replaces the value);
- a ``set`` (or ``frozenset``): a set lattice — concurrent adds from anywhere all survive,
  reads return a ``set``;
- ``Max(n)``: keeps the largest integer written; reads return an ``int``;
- ``Counter(n)``: a grow-only counter — each write adds ``n``; writers never lose each
  other's increments; reads return the total;
- ``Priority(p, value)``: the value with the lowest priority wins; reads return the value.

A key keeps the kind it was first written with; writing another kind into it is an error
(delete the key first).
"""

from __future__ import annotations

import mmap
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from cloudburst_lattices import (
    LWW,
    Lattice,
    MapLattice,
    MaxLattice,
    PriorityLattice,
    SetLattice,
    decode,
    encode,
    lww_payload,
)

from cloudburst_protocol import serializer
from cloudburst_protocol.bulk import Mapped
from cloudburst_protocol.clock import HybridClock
from cloudburst_protocol.errors import InvalidArgumentError, SerializationError


@dataclass(frozen=True, slots=True)
class Max:
    """Write ``Max(n)`` to keep the largest integer ever written at a key."""

    value: int


@dataclass(frozen=True, slots=True)
class Counter:
    """Write ``Counter(n)`` to add ``n`` (n >= 0) to a grow-only counter at a key."""

    increment: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.increment, int) or self.increment < 0:
            raise InvalidArgumentError("a Counter only grows: the increment is an int >= 0")


@dataclass(frozen=True, slots=True)
class Priority:
    """Write ``Priority(p, value)``: of all values written at a key, the one with the lowest
    priority is kept (ties go to the larger encoded value, so every replica agrees)."""

    priority: int
    value: Any


class Writer:
    """Turns Python values into lattices for one writing process. It holds the process's
    identity and its running counter totals (a counter is a map from writer to that writer's
    total, merged by max, so increments from different writers add up)."""

    def __init__(self, clock: HybridClock | None = None) -> None:
        self.clock = clock or HybridClock()
        self.writer_id = uuid.uuid4().hex[:16]
        self._totals: dict[str, int] = {}
        self._lock = threading.Lock()

    def lattice(self, key: str, value: Any) -> Lattice:
        if isinstance(value, set | frozenset):
            return SetLattice(frozenset(serializer.dumps(e) for e in value))
        if isinstance(value, Max):
            return MaxLattice(value.value)
        if isinstance(value, Priority):
            return PriorityLattice(value.priority, serializer.dumps(value.value))
        if isinstance(value, Counter):
            with self._lock:
                total = self._totals.get(key, 0) + value.increment
                self._totals[key] = total
            return MapLattice({self.writer_id: MaxLattice(total)})
        return LWW(self.clock.now(), serializer.dumps(value))

    def wrap(self, key: str, value: Any) -> bytes:
        """``value`` as an encoded lattice for ``key``."""
        return encode(self.lattice(key, value))


def from_lattice(lattice: Lattice) -> Any:
    """The Python value a stored lattice stands for."""
    if isinstance(lattice, LWW):
        return serializer.loads(lattice.value)
    if isinstance(lattice, SetLattice):
        return {serializer.loads(e) for e in lattice.elements}
    if isinstance(lattice, MaxLattice):
        return lattice.value
    if isinstance(lattice, PriorityLattice):
        return serializer.loads(lattice.value)
    if isinstance(lattice, MapLattice) and all(
        isinstance(v, MaxLattice) for v in lattice.entries.values()
    ):
        return sum(v.value for v in lattice.entries.values() if isinstance(v, MaxLattice))
    raise SerializationError(f"a stored {type(lattice).__name__} has no Python value form")


def value_of(lattice_bytes: bytes | memoryview | mmap.mmap) -> Any:
    """The Python value of an encoded lattice; a plain value's bytes are not copied on the
    way (large values are read this way, also straight from a mapped bulk file)."""
    if isinstance(lattice_bytes, Mapped):
        # A bulk value: decode from a private copy-on-write mapping instead of copying.
        private = lattice_bytes.private()
        view = lww_payload(private)
        if view is not None:
            return serializer.loads(view, owned=True)
    view = lww_payload(lattice_bytes)
    if view is not None:
        return serializer.loads(view)
    return from_lattice(decode(bytes(lattice_bytes)))


def wrap_encoded(encoded_value: bytes, clock: HybridClock) -> bytes:
    """An encoded value (see :mod:`.serializer`) as an encoded LWW lattice."""
    return encode(LWW(clock.now(), encoded_value))


def wrap(value: Any, clock: HybridClock) -> bytes:
    """A Python value as an encoded last-writer-wins lattice (runtime metadata)."""
    return wrap_encoded(serializer.dumps(value), clock)


def unwrap_encoded(lattice_bytes: bytes) -> bytes:
    """The encoded value a stored LWW lattice holds (function bodies, call results)."""
    lattice: Lattice = decode(lattice_bytes)
    if isinstance(lattice, LWW):
        return lattice.value
    raise SerializationError(f"stored value is a {type(lattice).__name__}, not a plain value")


def unwrap(lattice_bytes: bytes | memoryview | mmap.mmap) -> Any:
    """The Python value a stored lattice stands for."""
    return value_of(lattice_bytes)


__all__ = [
    "Counter",
    "Max",
    "Priority",
    "Writer",
    "from_lattice",
    "unwrap",
    "unwrap_encoded",
    "value_of",
    "wrap",
    "wrap_encoded",
]
