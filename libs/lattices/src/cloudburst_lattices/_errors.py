"""Exception types raised by the lattice library."""

from __future__ import annotations

__all__ = ["LatticeDecodeError", "LatticeTypeError"]


class LatticeTypeError(TypeError):
    """Two lattices of different types were merged.

    Raised by every ``merge`` when ``other`` is not the same lattice type as ``self``, and by
    :class:`~cloudburst_lattices.MapLattice` when the same key holds different lattice types
    on the two sides of a merge.
    """


class LatticeDecodeError(ValueError):
    """Bytes handed to :func:`~cloudburst_lattices.decode` are not a valid lattice encoding.

    Covers truncated input, trailing bytes, unknown format versions or type tags, invalid
    UTF-8, out-of-range integers, excessive nesting and non-canonical encodings.
    """
