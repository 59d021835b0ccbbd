"""Words for lattice kinds in error messages users read."""

from __future__ import annotations

from cloudburst_lattices import LWW, Lattice, MaxLattice, SetLattice

_KINDS: dict[type, str] = {
    LWW: "a plain value (last writer wins)",
    SetLattice: "a set (merged by union)",
    MaxLattice: "a maximum (merged by max)",
}


def describe_type(kind: type) -> str:
    return _KINDS.get(kind, f"a {kind.__name__}")


def describe_kind(lattice: Lattice) -> str:
    return describe_type(type(lattice))
