"""Reads and writes of a call in a snapshot mode (REPEATABLE_READ, SINGLE, MULTI). Pure.

Such a call reads every key at one snapshot of the store (the sequence number its first
executor's cache had reached when the call started), on any node, so two reads of a key in
one call always agree and no read can see a version whose causes it could not also see: the
snapshot is a prefix of the store's one total order of changes. The call's own writes go
through to the store at once (others see them as usual) and travel with its triggers; the
call's later reads see the snapshot merged with its own writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cloudburst_lattices import decode, encode, merge
from cloudburst_protocol.gen import cache_pb2


def merge_writes(*write_sets: Iterable[cache_pb2.KeyLattice]) -> dict[str, bytes]:
    """One write set from several (a DAG join): each key's lattices merged."""
    merged: dict[str, bytes] = {}
    for writes in write_sets:
        for entry in writes:
            merged[entry.key] = merge_lattices(merged.get(entry.key), entry.lattice)
    return merged


def merge_lattices(current: bytes | None, incoming: bytes) -> bytes:
    if current is None:
        return bytes(incoming)
    return encode(merge(decode(current), decode(incoming)))


def overlay(
    read: Mapping[str, bytes], keys: Iterable[str], writes: Mapping[str, bytes]
) -> dict[str, bytes]:
    """What the call sees for ``keys``: the snapshot's versions merged with its own writes."""
    seen = dict(read)
    for key in keys:
        written = writes.get(key)
        if written is not None:
            seen[key] = merge_lattices(seen.get(key), written)
    return seen


def as_entries(writes: Mapping[str, bytes]) -> list[cache_pb2.KeyLattice]:
    return [cache_pb2.KeyLattice(key=k, lattice=v) for k, v in sorted(writes.items())]
