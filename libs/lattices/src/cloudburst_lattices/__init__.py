"""Cloudburst lattices: pure, immutable join-semilattices and their binary codec.

Every lattice is a frozen, slotted, hashable dataclass whose ``merge(other)`` is pure,
deterministic, associative, commutative and idempotent; ties are broken by a total order on
the contents, never by argument position. Payloads are opaque ``bytes``. Merging two
different lattice types raises :class:`LatticeTypeError`.

``encode`` / ``decode`` convert lattices to and from a compact, canonical binary format
(documented in ``cloudburst_lattices._codec``).
"""

from ._causal import MultiKeyCausal, SingleKeyCausal
from ._codec import FORMAT_VERSION, MAX_NESTING_DEPTH, decode, encode, lww_payload
from ._errors import LatticeDecodeError, LatticeTypeError
from ._lww import LWW
from ._map import LATTICE_TYPES, Lattice, MapLattice, merge
from ._scalar import MaxLattice, PriorityLattice
from ._sets import OrderedSetLattice, SetLattice
from ._vclock import Causality, VectorClock

__all__ = [
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
