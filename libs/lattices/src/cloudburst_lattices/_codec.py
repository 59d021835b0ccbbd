"""Compact, deterministic binary encoding of lattices.

Wire format (version 1)
-----------------------
An encoded lattice is one format-version byte followed by one *value*::

    encoding := 0x01 value
    value    := tag:u8 payload

Primitive building blocks::

    uvarint  := unsigned LEB128: 7 bits per byte, least significant group first, high bit
                set on every byte but the last; shortest form only, at most 10 bytes
    svarint  := uvarint of the zigzag-mapped signed integer (0, -1, 1, -2, ... -> 0, 1, 2, 3)
    blob     := uvarint(length) byte*length
    str      := blob holding UTF-8 text
    bytesset := uvarint(count) blob*count        blobs strictly ascending (bytewise)
    clock    := uvarint(count) (str uvarint)*count
                nodes strictly ascending, counters in [1, 2**64)
    deps     := uvarint(count) (str clock)*count  keys strictly ascending, clocks non-empty

Tags and payloads::

    0x01 LWW                svarint(timestamp) blob(value)
    0x02 SetLattice         bytesset
    0x03 OrderedSetLattice  bytesset
    0x04 MaxLattice         svarint(value)
    0x05 PriorityLattice    svarint(priority) blob(value)
    0x06 VectorClock        clock
    0x07 MapLattice         uvarint(count) (str value)*count   keys strictly ascending
    0x08 SingleKeyCausal    uvarint(count) (clock bytesset)*count
    0x09 MultiKeyCausal     uvarint(count) (clock deps bytesset)*count

Signed integers fit in 64 bits. Causal versions appear in canonical order: ascending by the
clock's ``(node, counter)`` pairs compared as tuples, clocks pairwise incomparable (no
version strictly dominates another) and distinct. Strings are ordered by code point, which
is the same as ordering their UTF-8 bytes. ``MapLattice`` values may nest at most
:data:`MAX_NESTING_DEPTH` levels deep.

Every lattice has exactly one encoding: ``encode`` is deterministic (equal lattices give
identical bytes) and ``decode`` accepts only canonical input, so for every ``data`` that
``decode`` accepts, ``encode(decode(data)) == data``. Any other input -- truncated, trailing
bytes, unknown version or tag, overlong varints, bad UTF-8, out-of-range integers, unsorted
or duplicate elements, too-deep nesting -- raises :class:`LatticeDecodeError`. Decoding
runs in time linear in the input (every declared count is checked against the bytes left).
"""

from __future__ import annotations

import mmap
from collections.abc import Iterable, Mapping

from ._causal import MultiKeyCausal, SingleKeyCausal
from ._errors import LatticeDecodeError
from ._frozen import check_int64
from ._lww import LWW
from ._map import Lattice, MapLattice
from ._scalar import MaxLattice, PriorityLattice
from ._sets import OrderedSetLattice, SetLattice
from ._vclock import VectorClock

__all__ = ["FORMAT_VERSION", "MAX_NESTING_DEPTH", "decode", "encode", "lww_payload"]

FORMAT_VERSION = 1
"""The format-version byte written by :func:`encode` and required by :func:`decode`."""

MAX_NESTING_DEPTH = 32
"""Deepest ``MapLattice`` nesting :func:`encode` writes and :func:`decode` accepts."""

_TAG_LWW = 0x01
_TAG_SET = 0x02
_TAG_ORDERED_SET = 0x03
_TAG_MAX = 0x04
_TAG_PRIORITY = 0x05
_TAG_VECTOR_CLOCK = 0x06
_TAG_MAP = 0x07
_TAG_SINGLE_KEY_CAUSAL = 0x08
_TAG_MULTI_KEY_CAUSAL = 0x09

_MAX_VARINT_BYTES = 10
_SCALAR_TAGS = frozenset((_TAG_LWW, _TAG_MAX, _TAG_PRIORITY))


# --------------------------------------------------------------------------- encoding


def encode(lattice: Lattice) -> bytes:
    """Encode ``lattice`` in the version-1 wire format (see the module docstring).

    Raises:
        TypeError: if ``lattice`` is not a lattice of this library.
        ValueError: if ``MapLattice`` values nest deeper than :data:`MAX_NESTING_DEPTH`.
    """
    if type(lattice) is LWW:
        # The common case, and the one large values take: the value is copied once.
        head = bytearray((FORMAT_VERSION, _TAG_LWW))
        _put_svarint(head, lattice.timestamp)
        _put_uvarint(head, len(lattice.value))
        return b"".join((head, lattice.value))
    out = bytearray((FORMAT_VERSION,))
    _encode_value(out, lattice, 0)
    return bytes(out)


def _put_uvarint(out: bytearray, value: int) -> None:
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _put_svarint(out: bytearray, value: int) -> None:
    _put_uvarint(out, value << 1 if value >= 0 else (-value << 1) - 1)


def _put_blob(out: bytearray, value: bytes) -> None:
    _put_uvarint(out, len(value))
    out += value


def _put_str(out: bytearray, value: str) -> None:
    _put_blob(out, value.encode("utf-8"))


def _put_bytes_set(out: bytearray, elements: Iterable[bytes]) -> None:
    ordered = sorted(elements)
    _put_uvarint(out, len(ordered))
    for element in ordered:
        _put_blob(out, element)


def _put_clock(out: bytearray, clock: VectorClock) -> None:
    items = clock.sorted_items
    _put_uvarint(out, len(items))
    for node, counter in items:
        _put_str(out, node)
        _put_uvarint(out, counter)


def _put_deps(out: bytearray, deps: Mapping[str, VectorClock]) -> None:
    keys = sorted(deps)
    _put_uvarint(out, len(keys))
    for key in keys:
        _put_str(out, key)
        _put_clock(out, deps[key])


def _encode_value(out: bytearray, lattice: Lattice, depth: int) -> None:
    if isinstance(lattice, LWW):
        out.append(_TAG_LWW)
        _put_svarint(out, lattice.timestamp)
        _put_blob(out, lattice.value)
    elif isinstance(lattice, SetLattice):
        out.append(_TAG_SET)
        _put_bytes_set(out, lattice.elements)
    elif isinstance(lattice, OrderedSetLattice):
        out.append(_TAG_ORDERED_SET)
        _put_bytes_set(out, lattice.elements)
    elif isinstance(lattice, MaxLattice):
        out.append(_TAG_MAX)
        _put_svarint(out, lattice.value)
    elif isinstance(lattice, PriorityLattice):
        out.append(_TAG_PRIORITY)
        _put_svarint(out, lattice.priority)
        _put_blob(out, lattice.value)
    elif isinstance(lattice, VectorClock):
        out.append(_TAG_VECTOR_CLOCK)
        _put_clock(out, lattice)
    elif isinstance(lattice, MapLattice):
        if depth >= MAX_NESTING_DEPTH:
            raise ValueError(f"MapLattice nesting exceeds MAX_NESTING_DEPTH={MAX_NESTING_DEPTH}")
        out.append(_TAG_MAP)
        keys = sorted(lattice.entries)
        _put_uvarint(out, len(keys))
        for key in keys:
            _put_str(out, key)
            _encode_value(out, lattice.entries[key], depth + 1)
    elif isinstance(lattice, SingleKeyCausal):
        out.append(_TAG_SINGLE_KEY_CAUSAL)
        _put_uvarint(out, len(lattice.versions))
        for clock, values in lattice.versions:
            _put_clock(out, clock)
            _put_bytes_set(out, values)
    elif isinstance(lattice, MultiKeyCausal):
        out.append(_TAG_MULTI_KEY_CAUSAL)
        _put_uvarint(out, len(lattice.versions))
        for clock, deps, values in lattice.versions:
            _put_clock(out, clock)
            _put_deps(out, deps)
            _put_bytes_set(out, values)
    else:
        raise TypeError(f"cannot encode {type(lattice).__name__}: not a lattice")


# --------------------------------------------------------------------------- decoding


def decode(data: bytes | bytearray | memoryview) -> Lattice:
    """Decode bytes produced by :func:`encode`.

    Raises:
        LatticeDecodeError: if ``data`` is not exactly one canonical version-1 encoding.
        TypeError: if ``data`` is not bytes-like.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode() needs bytes, got {type(data).__name__}")
    raw = data if isinstance(data, bytes) else bytes(data)
    if not raw:
        raise LatticeDecodeError("empty input: expected a format-version byte")
    if raw[0] != FORMAT_VERSION:
        raise LatticeDecodeError(
            f"unsupported format version {raw[0]} (this library reads version {FORMAT_VERSION})"
        )
    reader = _Reader(raw, 1)
    try:
        result = reader.value(0)
    except LatticeDecodeError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        # Constructor validation (e.g. an out-of-range integer) rejected decoded fields.
        raise LatticeDecodeError(f"invalid lattice contents: {exc}") from None
    if reader.pos != len(raw):
        raise LatticeDecodeError(
            f"{len(raw) - reader.pos} trailing byte(s) after the lattice at offset {reader.pos}"
        )
    # Scalar types are canonical once parsed (minimal varints are checked while reading);
    # only types with orderings to check are re-encoded, so large values are not copied.
    if raw[1] not in _SCALAR_TAGS and encode(result) != raw:
        raise LatticeDecodeError(
            "non-canonical encoding (unsorted or duplicate elements, zero counters, "
            "dominated causal versions or overlong varints)"
        )
    return result


def lww_payload(data: bytes | memoryview | mmap.mmap) -> memoryview | None:
    """The value of an encoded ``LWW`` as a view into ``data`` (no copy), or ``None`` when
    ``data`` is not an encoded LWW. For large values on hot paths; :func:`decode` checks more.
    """
    if len(data) < 3 or data[0] != FORMAT_VERSION or data[1] != _TAG_LWW:
        return None
    reader = _Reader(data, 2)  # type: ignore[arg-type]  # indexing and len are all it uses
    try:
        reader.svarint("LWW timestamp")
        length = reader.uvarint("LWW value length")
    except LatticeDecodeError:
        return None
    if reader.pos + length != len(data):
        return None
    return memoryview(data)[reader.pos :]


class _Reader:
    """Cursor over the input; every read checks bounds and raises LatticeDecodeError."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos

    def _fail(self, message: str) -> LatticeDecodeError:
        return LatticeDecodeError(f"{message} at offset {self.pos}")

    def byte(self, what: str) -> int:
        if self.pos >= len(self.data):
            raise self._fail(f"truncated input: expected {what}")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def uvarint(self, what: str) -> int:
        result = 0
        for index in range(_MAX_VARINT_BYTES):
            byte = self.byte(what)
            result |= (byte & 0x7F) << (7 * index)
            if not byte & 0x80:
                if byte == 0 and index > 0:
                    raise self._fail(f"overlong varint for {what}")
                return result
        raise self._fail(f"varint for {what} longer than {_MAX_VARINT_BYTES} bytes")

    def svarint(self, what: str) -> int:
        raw = self.uvarint(what)
        return check_int64((raw >> 1) ^ -(raw & 1), what)

    def count(self, what: str) -> int:
        """A count of items that each take at least one byte: bounded by the bytes left."""
        count = self.uvarint(f"{what} count")
        if count > len(self.data) - self.pos:
            raise self._fail(f"truncated input: {what} count {count} exceeds the bytes left")
        return count

    def blob(self, what: str) -> bytes:
        length = self.uvarint(f"{what} length")
        end = self.pos + length
        if end > len(self.data):
            raise self._fail(f"truncated input: {what} of {length} bytes")
        value = self.data[self.pos : end]
        self.pos = end
        return value

    def text(self, what: str) -> str:
        raw = self.blob(what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self._fail(f"{what} is not valid UTF-8") from None

    def bytes_set(self, what: str) -> list[bytes]:
        return [self.blob(f"{what} element") for _ in range(self.count(what))]

    def clock(self, what: str) -> VectorClock:
        entries: dict[str, int] = {}
        for _ in range(self.count(what)):
            node = self.text(f"{what} node")
            if node in entries:
                raise self._fail(f"duplicate node {node!r} in {what}")
            entries[node] = self.uvarint(f"{what} counter")
        return VectorClock(entries)

    def deps(self, what: str) -> dict[str, VectorClock]:
        entries: dict[str, VectorClock] = {}
        for _ in range(self.count(what)):
            key = self.text(f"{what} key")
            if key in entries:
                raise self._fail(f"duplicate key {key!r} in {what}")
            entries[key] = self.clock(f"{what} clock")
        return entries

    def value(self, depth: int) -> Lattice:  # noqa: PLR0911
        tag = self.byte("type tag")
        if tag == _TAG_LWW:
            timestamp = self.svarint("LWW timestamp")
            return LWW(timestamp, self.blob("LWW value"))
        if tag == _TAG_SET:
            return SetLattice(frozenset(self.bytes_set("SetLattice")))
        if tag == _TAG_ORDERED_SET:
            return OrderedSetLattice(tuple(self.bytes_set("OrderedSetLattice")))
        if tag == _TAG_MAX:
            return MaxLattice(self.svarint("MaxLattice value"))
        if tag == _TAG_PRIORITY:
            priority = self.svarint("PriorityLattice priority")
            return PriorityLattice(priority, self.blob("PriorityLattice value"))
        if tag == _TAG_VECTOR_CLOCK:
            return self.clock("VectorClock")
        if tag == _TAG_MAP:
            return self.map(depth)
        if tag == _TAG_SINGLE_KEY_CAUSAL:
            single = [
                (self.clock("SingleKeyCausal clock"), self.bytes_set("SingleKeyCausal values"))
                for _ in range(self.count("SingleKeyCausal versions"))
            ]
            return SingleKeyCausal.from_versions(single)
        if tag == _TAG_MULTI_KEY_CAUSAL:
            multi = [
                (
                    self.clock("MultiKeyCausal clock"),
                    self.deps("MultiKeyCausal dependencies"),
                    self.bytes_set("MultiKeyCausal values"),
                )
                for _ in range(self.count("MultiKeyCausal versions"))
            ]
            return MultiKeyCausal.from_versions(multi)
        self.pos -= 1
        raise self._fail(f"unknown type tag 0x{tag:02x}")

    def map(self, depth: int) -> MapLattice:
        if depth >= MAX_NESTING_DEPTH:
            raise self._fail(f"MapLattice nesting exceeds MAX_NESTING_DEPTH={MAX_NESTING_DEPTH}")
        entries: dict[str, Lattice] = {}
        for _ in range(self.count("MapLattice entries")):
            key = self.text("MapLattice key")
            if key in entries:
                raise self._fail(f"duplicate MapLattice key {key!r}")
            entries[key] = self.value(depth + 1)
        return MapLattice(entries)
