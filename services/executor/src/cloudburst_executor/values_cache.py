"""The executor's own copies of large values it read, so a repeated read of an unchanged key
costs a small request to the node cache instead of moving the value again.

Each copy remembers the store's sequence number of its version. A read sends the numbers it
holds (``CacheGetRequest.known``); the node cache answers "unchanged" for those still
current, so a copy is only ever used when it is the version the cache would have sent.
Bounded by bytes, least recently used evicted; only values of at least ``MIN_BYTES`` are
kept (small ones cost nothing to send). Thread-safe: user code reads from its worker thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping

from cloudburst_protocol.bulk import BulkDir, Data
from cloudburst_protocol.errors import UnavailableError
from cloudburst_protocol.gen import cache_pb2

MIN_BYTES = 32 * 1024
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class ValueCache:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, tuple[int, Data]] = OrderedDict()
        self._lock = threading.Lock()

    def known(self, keys: Iterable[str]) -> dict[str, int]:
        """The sequence numbers held for ``keys`` (to send with a read)."""
        with self._lock:
            return {k: self._entries[k][0] for k in keys if k in self._entries}

    def absorb(
        self, reply: cache_pb2.CacheGetResponse, taken: dict[str, Data] | None = None
    ) -> dict[str, Data]:
        """The reply's values by key: sent ones (kept if large; ``taken`` holds those that
        came as bulk files), unchanged ones from here."""
        taken = taken or {}
        found: dict[str, Data] = {}
        with self._lock:
            for key in reply.unchanged:
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
                    found[key] = entry[1]
            for entry_pb in reply.entries:
                lattice = taken.get(entry_pb.key, entry_pb.lattice)
                found[entry_pb.key] = lattice
                if entry_pb.seq and len(lattice) >= MIN_BYTES:
                    self._keep(entry_pb.key, entry_pb.seq, lattice)
        return found

    def _keep(self, key: str, seq: int, lattice: Data) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= len(old[1])
        if len(lattice) > self.max_bytes:
            return
        self._entries[key] = (seq, lattice)
        self.bytes += len(lattice)
        while self.bytes > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self.bytes -= len(dropped)


def take_bulk(bulk: BulkDir | None, reply: cache_pb2.CacheGetResponse) -> dict[str, Data]:
    """The values of a reply that came as bulk files, mapped (cloudburst_protocol.bulk)."""
    taken: dict[str, Data] = {}
    for entry in reply.entries:
        if not entry.bulk:
            continue
        if bulk is None:
            raise UnavailableError(f"{entry.key!r} came as a bulk file this process can't read")
        try:
            taken[entry.key] = bulk.take(entry.bulk)
        except (OSError, ValueError) as exc:
            raise UnavailableError(f"reading {entry.key!r} from its bulk file: {exc}") from exc
    return taken


def inline(found: Mapping[str, Data]) -> dict[str, bytes]:
    """``found`` with every value as bytes (for code that merges lattices)."""
    return {k: v if isinstance(v, bytes) else bytes(v) for k, v in found.items()}
