"""Large values handed to readers on this host as files (see :mod:`cloudburst_protocol.bulk`).

The storage authority keeps one file per recently read large version, so a second reader
(another node's cache, a re-read after eviction) gets a hard link instead of another copy.
Bounded by bytes; a key's older version is released when a newer one is lent.
"""

from __future__ import annotations

from collections import OrderedDict

from cloudburst_protocol.bulk import MIN_BYTES, BulkDir

from cloudburst_cache.node import Encoded

DEFAULT_MAX_BYTES = 512 * 1024 * 1024


class Lender:
    def __init__(self, bulk: BulkDir, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.bulk = bulk
        self.max_bytes = max_bytes
        self.bytes = 0
        self._kept: OrderedDict[str, tuple[int, str, int]] = OrderedDict()  # seq, file, size

    def lend(self, key: str, seq: int, encoded: Encoded) -> str | None:
        """A transfer file of ``key``'s version ``seq`` for a reader sharing the directory,
        or ``None`` when the value is small enough to send inline."""
        if len(encoded) < MIN_BYTES:
            return None
        kept = self.prepare(key, seq, encoded)
        return self.bulk.lend(kept) if kept is not None else self.bulk.write(encoded)

    def prepare(self, key: str, seq: int, encoded: Encoded) -> str | None:
        """Keeps a file of a large version ready to lend (done when it is written, so a
        first read only links it); returns the kept file, or ``None`` if not kept."""
        held = self._kept.get(key)
        if held is not None and held[0] == seq and seq:
            self._kept.move_to_end(key)
            return held[1]
        if len(encoded) < MIN_BYTES or not seq or len(encoded) > self.max_bytes:
            return None  # small, nothing to key it by, or too big to keep
        if held is not None:
            self._forget(key)
        kept = self.bulk.keep(encoded)
        self._kept[key] = (seq, kept, len(encoded))
        self.bytes += len(encoded)
        while self.bytes > self.max_bytes:
            self._forget(next(iter(self._kept)))
        return kept

    def hold(self, key: str, seq: int, kept: str, size: int) -> None:
        """Takes over a file already kept (a value that arrived as a bulk file)."""
        if key in self._kept:
            self._forget(key)
        if size > self.max_bytes:
            self.bulk.release(kept)
            return
        self._kept[key] = (seq, kept, size)
        self.bytes += size
        while self.bytes > self.max_bytes:
            self._forget(next(iter(self._kept)))

    def close(self) -> None:
        for key in list(self._kept):
            self._forget(key)

    def _forget(self, key: str) -> None:
        _, kept, size = self._kept.pop(key)
        self.bytes -= size
        self.bulk.release(kept)
