"""Binary codec: round trips, pinned golden vectors, canonical form and decode fuzzing."""

from __future__ import annotations

import pytest
from cloudburst_lattices import (
    FORMAT_VERSION,
    LWW,
    MAX_NESTING_DEPTH,
    Lattice,
    LatticeDecodeError,
    MapLattice,
    MaxLattice,
    MultiKeyCausal,
    OrderedSetLattice,
    PriorityLattice,
    SetLattice,
    SingleKeyCausal,
    VectorClock,
    decode,
    encode,
    lww_payload,
)
from hypothesis import given
from hypothesis import strategies as st

from .lattice_strategies import MERGEABLE, any_lattices


def vc(**counters: int) -> VectorClock:
    """Shorthand for a vector clock literal."""
    return VectorClock(counters)


GOLDEN: list[tuple[Lattice, str]] = [
    (LWW(1, b"x"), "01 01 02 0178"),
    (LWW(-1, b""), "01 01 01 00"),
    (LWW((1 << 63) - 1, b"\xff"), "01 01 feffffffffffffffff01 01ff"),
    (SetLattice(frozenset({b"b", b"a"})), "01 02 02 0161 0162"),
    (SetLattice(), "01 02 00"),
    (OrderedSetLattice((b"b", b"a", b"a")), "01 03 02 0161 0162"),
    (MaxLattice(300), "01 04 d804"),
    (MaxLattice(-(1 << 63)), "01 04 ffffffffffffffffff01"),
    (PriorityLattice(-2, b"p"), "01 05 03 0170"),
    (VectorClock({"b": 2, "a": 1}), "01 06 02 0161 01 0162 02"),
    (VectorClock({"é": (1 << 64) - 1}), "01 06 01 02c3a9 ffffffffffffffffff01"),
    (MapLattice(), "01 07 00"),
    (
        MapLattice({"m": MaxLattice(0), "l": LWW(0, b"")}),
        "01 07 02 016c 01 00 00 016d 04 00",
    ),
    (
        SingleKeyCausal(vc(x=1), {b"vx"})
        .merge(SingleKeyCausal(vc(z=1), {b"vz"}))
        .merge(SingleKeyCausal(vc(y=1, z=1), {b"vy"})),
        "01 08 02 01 0178 01 01 027678 02 0179 01 017a 01 01 027679",
    ),
    (
        MultiKeyCausal(vc(a=1), {"k": vc(b=2)}, {b"v"}),
        "01 09 01 01 0161 01 01 016b 01 0162 02 01 0176",
    ),
]


@pytest.mark.parametrize(("lattice", "hex_encoding"), GOLDEN)
def test_golden_vectors(lattice: Lattice, hex_encoding: str) -> None:
    """The wire format is pinned: these encodings must never change within version 1."""
    expected = bytes.fromhex(hex_encoding)
    assert encode(lattice) == expected
    assert decode(expected) == lattice


@pytest.mark.parametrize("name", sorted(MERGEABLE))
@given(data=st.data())
def test_round_trip_every_type(name: str, data: st.DataObject) -> None:
    """decode(encode(x)) == x for every lattice type, and the type byte matches."""
    lattice = data.draw(MERGEABLE[name])
    encoded = encode(lattice)
    assert encoded[0] == FORMAT_VERSION
    decoded = decode(encoded)
    assert decoded == lattice
    assert type(decoded) is type(lattice)


@given(any_lattices)
def test_round_trip_nested_maps_of_mixed_types(lattice: Lattice) -> None:
    """Round trip holds for maps nesting arbitrary lattice types."""
    assert decode(encode(lattice)) == lattice


@given(st.data())
def test_equal_lattices_encode_identically(data: st.DataObject) -> None:
    """Equal values built in different orders give byte-identical encodings."""
    elements = data.draw(st.lists(st.binary(max_size=3), max_size=6))
    shuffled = data.draw(st.permutations(elements))
    assert encode(SetLattice(frozenset(elements))) == encode(SetLattice(frozenset(shuffled)))
    assert encode(OrderedSetLattice(tuple(elements))) == encode(OrderedSetLattice(tuple(shuffled)))
    entries = {f"k{i}": MaxLattice(i) for i in range(len(elements))}
    reordered = dict(reversed(list(entries.items())))
    assert encode(MapLattice(entries)) == encode(MapLattice(reordered))
    clock = {f"n{i}": i for i in range(len(elements))}
    assert encode(VectorClock(clock)) == encode(VectorClock(dict(reversed(clock.items()))))


def _decode_or_error(data: bytes) -> None:
    try:
        result = decode(data)
    except LatticeDecodeError as exc:
        assert str(exc)
    else:
        assert encode(result) == data  # only canonical encodings are accepted


@given(st.binary(max_size=64))
def test_decode_random_bytes(data: bytes) -> None:
    """Random bytes decode to a lattice or raise LatticeDecodeError, nothing else."""
    _decode_or_error(data)


@given(st.integers(0, 12), st.binary(max_size=48))
def test_decode_random_payloads_after_valid_header(tag: int, payload: bytes) -> None:
    """Random payloads behind a valid version byte and (mostly) known tag never misbehave."""
    _decode_or_error(bytes((FORMAT_VERSION, tag)) + payload)


@given(any_lattices, st.data())
def test_decode_mutated_encodings(lattice: Lattice, data: st.DataObject) -> None:
    """Valid encodings with bytes flipped, inserted or deleted never raise another error."""
    buffer = bytearray(encode(lattice))
    for _ in range(data.draw(st.integers(1, 3))):
        action = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        index = data.draw(st.integers(0, len(buffer)))
        if action == "insert" or not buffer:
            buffer.insert(index, data.draw(st.integers(0, 255)))
        elif action == "flip":
            buffer[min(index, len(buffer) - 1)] ^= 1 << data.draw(st.integers(0, 7))
        else:
            del buffer[min(index, len(buffer) - 1)]
    _decode_or_error(bytes(buffer))


@given(any_lattices)
def test_every_truncation_is_rejected(lattice: Lattice) -> None:
    """Every proper prefix of an encoding raises LatticeDecodeError (the code is prefix-free)."""
    encoded = encode(lattice)
    for end in range(len(encoded)):
        with pytest.raises(LatticeDecodeError):
            decode(encoded[:end])


@given(any_lattices, st.binary(min_size=1, max_size=4))
def test_trailing_bytes_are_rejected(lattice: Lattice, extra: bytes) -> None:
    """Bytes after a complete lattice raise LatticeDecodeError."""
    with pytest.raises(LatticeDecodeError, match="trailing"):
        decode(encode(lattice) + extra)


@pytest.mark.parametrize(
    ("hex_data", "message"),
    [
        ("", "empty input"),
        ("02 04 00", "unsupported format version 2"),
        ("00 04 00", "unsupported format version 0"),
        ("01", "truncated input: expected type tag"),
        ("01 00", "unknown type tag 0x00"),
        ("01 0a", "unknown type tag 0x0a"),
        ("01 ff 00", "unknown type tag 0xff"),
        ("01 04 8000", "overlong varint"),
        ("01 04 ffffffffffffffffffff01", "longer than 10 bytes"),
        ("01 04 80808080808080808002", "invalid lattice contents"),
        ("01 01 02 05 78", "truncated input: LWW value of 5 bytes"),
        ("01 02 02 0162 0161", "non-canonical"),
        ("01 02 02 0161 0161", "non-canonical"),
        ("01 03 02 0162 0161", "non-canonical"),
        ("01 02 ffffffffffffffff7f", "exceeds the bytes left"),
        ("01 06 01 0161 00", "non-canonical"),
        ("01 06 02 0162 01 0161 01", "non-canonical"),
        ("01 06 02 0161 01 0161 02", "duplicate node 'a'"),
        ("01 06 01 01ff 01", "not valid UTF-8"),
        ("01 06 01 0161 80808080808080808004", "invalid lattice contents"),
        ("01 07 02 0161 0400 0161 0400", "duplicate MapLattice key 'a'"),
        ("01 07 02 0162 0400 0161 0400", "non-canonical"),
        ("01 08 02 01 0161 01 00 01 0161 02 00", "non-canonical"),
        ("01 09 01 01 0161 01 01 016b 00 00", "non-canonical"),
    ],
)
def test_malformed_inputs_have_clear_errors(hex_data: str, message: str) -> None:
    """Specific malformed encodings raise LatticeDecodeError with a descriptive message."""
    with pytest.raises(LatticeDecodeError, match=message):
        decode(bytes.fromhex(hex_data))


def _nested(depth: int) -> MapLattice:
    value = MapLattice()
    for _ in range(depth - 1):
        value = MapLattice({"m": value})
    return value


def test_nesting_limit() -> None:
    """MAX_NESTING_DEPTH nested maps round-trip; one more is refused by encode and decode."""
    deepest = _nested(MAX_NESTING_DEPTH)
    assert decode(encode(deepest)) == deepest
    with pytest.raises(ValueError, match="MAX_NESTING_DEPTH"):
        encode(_nested(MAX_NESTING_DEPTH + 1))
    too_deep = b"\x01" + b"\x07\x01\x01m" * MAX_NESTING_DEPTH + b"\x07\x00"
    with pytest.raises(LatticeDecodeError, match="MAX_NESTING_DEPTH"):
        decode(too_deep)


def test_hostile_nesting_does_not_recurse_unbounded() -> None:
    """A megabyte of nested map headers fails cleanly instead of hitting RecursionError."""
    with pytest.raises(LatticeDecodeError):
        decode(b"\x01" + b"\x07\x01\x01m" * 250_000)


def test_decode_accepts_bytes_like_and_rejects_other_types() -> None:
    """decode() takes bytes, bytearray and memoryview; a str is a TypeError (caller bug)."""
    encoded = encode(MaxLattice(7))
    assert decode(bytearray(encoded)) == MaxLattice(7)
    assert decode(memoryview(encoded)) == MaxLattice(7)
    with pytest.raises(TypeError):
        decode(encoded.hex())  # type: ignore[arg-type]


def test_encode_rejects_non_lattices() -> None:
    """encode() of a non-lattice object is a TypeError."""
    with pytest.raises(TypeError):
        encode(42)  # type: ignore[arg-type]


def test_lww_payload_views_the_value_without_decoding() -> None:
    """lww_payload gives the value of an encoded LWW as a view, and None for anything else."""
    data = encode(LWW(-5, b"x" * 300))
    view = lww_payload(data)
    assert view is not None
    assert bytes(view) == b"x" * 300
    assert lww_payload(encode(MaxLattice(3))) is None
    assert lww_payload(data[:-1]) is None
    assert lww_payload(b"") is None
