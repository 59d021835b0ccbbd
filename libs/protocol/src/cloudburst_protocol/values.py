"""Python values <-> stored lattices. Users never see lattices: the runtime wraps a value
into a last-writer-wins lattice on write and unwraps it on read."""

from __future__ import annotations

from typing import Any

from cloudburst_lattices import LWW, Lattice, decode, encode

from cloudburst_protocol import serializer
from cloudburst_protocol.clock import HybridClock
from cloudburst_protocol.errors import SerializationError


def wrap_encoded(encoded_value: bytes, clock: HybridClock) -> bytes:
    """An encoded value (see :mod:`.serializer`) as an encoded LWW lattice."""
    return encode(LWW(clock.now(), encoded_value))


def wrap(value: Any, clock: HybridClock) -> bytes:
    """A Python value as an encoded LWW lattice."""
    return wrap_encoded(serializer.dumps(value), clock)


def unwrap_encoded(lattice_bytes: bytes) -> bytes:
    """The encoded value a stored lattice holds."""
    lattice: Lattice = decode(lattice_bytes)
    if isinstance(lattice, LWW):
        return lattice.value
    raise SerializationError(f"stored value is a {type(lattice).__name__}, not a plain value")


def unwrap(lattice_bytes: bytes) -> Any:
    """The Python value a stored lattice holds."""
    return serializer.loads(unwrap_encoded(lattice_bytes))


__all__ = ["unwrap", "unwrap_encoded", "wrap", "wrap_encoded"]
