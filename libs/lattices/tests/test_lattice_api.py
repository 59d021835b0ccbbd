"""Public API surface, immutability, normalisation, validation and cross-type merge errors."""

from __future__ import annotations

import dataclasses
import pickle
from importlib import resources

import cloudburst_lattices
import pytest
from cloudburst_lattices import (
    LATTICE_TYPES,
    LWW,
    Lattice,
    LatticeDecodeError,
    LatticeTypeError,
    MapLattice,
    MaxLattice,
    MultiKeyCausal,
    OrderedSetLattice,
    PriorityLattice,
    SetLattice,
    SingleKeyCausal,
    VectorClock,
    merge,
)
from hypothesis import given

from .lattice_strategies import any_lattices


def test_public_api_is_pinned() -> None:
    """__all__ lists exactly the supported public names."""
    assert cloudburst_lattices.__all__ == [
        "FORMAT_VERSION",
        "LATTICE_TYPES",
        "LWW",
        "MAX_NESTING_DEPTH",
        "Causality",
        "Lattice",
        "LatticeDecodeError",
        "LatticeTypeError",
        "MapLattice",
        "MaxLattice",
        "MultiKeyCausal",
        "OrderedSetLattice",
        "PriorityLattice",
        "SetLattice",
        "SingleKeyCausal",
        "VectorClock",
        "decode",
        "encode",
        "lww_payload",
        "merge",
    ]
    for name in cloudburst_lattices.__all__:
        assert hasattr(cloudburst_lattices, name)


def test_package_ships_py_typed() -> None:
    """The py.typed marker is part of the package (PEP 561)."""
    assert resources.files("cloudburst_lattices").joinpath("py.typed").is_file()


def test_exception_hierarchy() -> None:
    """LatticeTypeError is a TypeError and LatticeDecodeError is a ValueError."""
    assert issubclass(LatticeTypeError, TypeError)
    assert issubclass(LatticeDecodeError, ValueError)


def test_lattice_types_cover_the_union() -> None:
    """LATTICE_TYPES names every member of the Lattice union, each a frozen slotted dataclass."""
    assert set(LATTICE_TYPES) == set(Lattice.__args__)
    for cls in LATTICE_TYPES:
        assert dataclasses.is_dataclass(cls)
        assert "__slots__" in vars(cls)
        assert cls.__dataclass_params__.frozen  # type: ignore[union-attr]


@given(any_lattices)
def test_lattices_are_immutable_hashable_and_picklable(lattice: Lattice) -> None:
    """Fields cannot be reassigned; values hash and survive pickling unchanged."""
    field = dataclasses.fields(lattice)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(lattice, field, None)
    assert hash(lattice) == hash(pickle.loads(pickle.dumps(lattice)))
    assert pickle.loads(pickle.dumps(lattice)) == lattice


def test_set_inputs_are_normalised() -> None:
    """Sets accept any iterable; OrderedSetLattice sorts and de-duplicates."""
    assert SetLattice({b"a", b"b"}) == SetLattice(frozenset([b"b", b"a"]))  # type: ignore[arg-type]
    assert isinstance(SetLattice({b"a"}).elements, frozenset)  # type: ignore[arg-type]
    ordered = OrderedSetLattice((b"c", b"a", b"c", b"b"))
    assert ordered.elements == (b"a", b"b", b"c")
    assert ordered == OrderedSetLattice((b"b", b"c", b"a"))


def test_map_entries_are_normalised_and_read_only() -> None:
    """MapLattice equality ignores insertion order and its entries cannot be mutated."""
    a = MapLattice({"x": MaxLattice(1), "y": MaxLattice(2)})
    b = MapLattice({"y": MaxLattice(2), "x": MaxLattice(1)})
    assert a == b
    assert hash(a) == hash(b)
    assert list(a.entries) == ["x", "y"]
    with pytest.raises(TypeError):
        a.entries["z"] = MaxLattice(3)  # type: ignore[index]


def test_map_merge_type_conflict_raises_in_both_orders() -> None:
    """Different lattice types under one key raise LatticeTypeError whatever the order."""
    a = MapLattice({"k": LWW(1, b"x")})
    b = MapLattice({"k": SetLattice(frozenset({b"x"}))})
    for left, right in ((a, b), (b, a)):
        with pytest.raises(LatticeTypeError, match=r"'k'.*LWW and SetLattice"):
            left.merge(right)


def test_nested_map_merge_type_conflict_raises() -> None:
    """A type conflict deep inside nested maps is reported too."""
    a = MapLattice({"outer": MapLattice({"k": MaxLattice(1)})})
    b = MapLattice({"outer": MapLattice({"k": PriorityLattice(1, b"")})})
    with pytest.raises(LatticeTypeError):
        a.merge(b)


@pytest.mark.parametrize("left", [LWW(0, b""), MaxLattice(0), VectorClock(), SingleKeyCausal()])
@pytest.mark.parametrize("right", [SetLattice(), PriorityLattice(0, b""), MapLattice()])
def test_cross_type_merge_raises(left: Lattice, right: Lattice) -> None:
    """merge() and the methods refuse to merge two different lattice types."""
    with pytest.raises(LatticeTypeError):
        merge(left, right)
    with pytest.raises(LatticeTypeError):
        left.merge(right)  # type: ignore[arg-type]
    with pytest.raises(LatticeTypeError):
        right.merge(left)  # type: ignore[arg-type]


def test_generic_merge_dispatches_on_type() -> None:
    """merge() on values typed as Lattice calls the type's own merge."""
    left: Lattice = MaxLattice(1)
    right: Lattice = MaxLattice(5)
    assert merge(left, right) == MaxLattice(5)


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: LWW(1, "text"), TypeError),  # type: ignore[arg-type]
        (lambda: LWW(1.0, b""), TypeError),  # type: ignore[arg-type]
        (lambda: LWW(True, b""), TypeError),
        (lambda: LWW(1 << 63, b""), ValueError),
        (lambda: MaxLattice(-(1 << 63) - 1), ValueError),
        (lambda: PriorityLattice(0, bytearray(b"x")), TypeError),  # type: ignore[arg-type]
        (lambda: SetLattice(frozenset({"x"})), TypeError),  # type: ignore[arg-type]
        (lambda: SetLattice(b"abc"), TypeError),  # type: ignore[arg-type]
        (lambda: OrderedSetLattice(("x",)), TypeError),  # type: ignore[arg-type]
        (lambda: MapLattice({"k": 1}), TypeError),  # type: ignore[dict-item]
        (lambda: MapLattice({1: MaxLattice(1)}), TypeError),  # type: ignore[dict-item]
        (lambda: MapLattice({"\udc80": MaxLattice(1)}), ValueError),
        (lambda: MapLattice([("k", MaxLattice(1))]), TypeError),  # type: ignore[arg-type]
    ],
)
def test_invalid_fields_are_rejected(build: object, error: type[Exception]) -> None:
    """Constructors validate field types and the signed 64-bit integer range."""
    assert callable(build)
    with pytest.raises(error):
        build()


def test_multi_key_causal_signature() -> None:
    """MultiKeyCausal takes clock, dependencies and values, positionally or by keyword."""
    clock = VectorClock({"n": 1})
    deps = {"other": VectorClock({"m": 2})}
    by_position = MultiKeyCausal(clock, deps, frozenset({b"v"}))
    by_keyword = MultiKeyCausal(clock=clock, dependencies=deps, values=frozenset({b"v"}))
    assert by_position == by_keyword
    assert by_position.clock == clock
    assert by_position.dependencies == deps
    assert by_position.values == {b"v"}
