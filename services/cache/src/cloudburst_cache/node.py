"""A node cache's contents: which keys it holds, how fresh, and what to evict. No I/O.

Entries are kept in least-recently-used order and bounded by bytes: inserting past the limit
evicts the coldest entries (a value larger than the whole limit is served but not kept). Each
entry remembers the authority's sequence number of its version, so an update that arrives
late never replaces a newer one. The scheduler learns what the node holds from reports built
here (sizes of held keys, and keys dropped since the last report).
"""

from __future__ import annotations

import mmap
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

Encoded = bytes | mmap.mmap
"""An encoded lattice: bytes, or the mapping of a file taken in bulk."""


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    encoded: Encoded
    # A file this cache keeps in the host's bulk directory ("" for none).
    file: str = ""

    @property
    def size(self) -> int:
        return len(self.encoded)


@dataclass(frozen=True, slots=True)
class Report:
    full: bool
    held: dict[str, int]
    dropped: list[str]


class NodeCacheState:
    def __init__(self, max_bytes: int, release: Callable[[Entry], None] | None = None) -> None:
        if max_bytes <= 0:
            raise ValueError("a cache needs a positive byte limit")
        self.max_bytes = max_bytes
        # Called with every entry that has a file once it is no longer held (or was refused).
        self._release = release
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self._added: dict[str, int] = {}
        self._dropped: set[str] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def seq(self, key: str) -> int:
        entry = self._entries.get(key)
        return entry.seq if entry is not None else 0

    def peek(self, key: str) -> Entry | None:
        """The held entry, without counting a hit or touching the LRU order."""
        return self._entries.get(key)

    def lookup(self, key: str) -> Entry | None:
        """The held entry (counted as a hit, and made most recently used) or ``None``."""
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return entry

    def store(self, key: str, seq: int, encoded: Encoded, file: str = "") -> list[str]:
        """Keeps a version (unless a newer one is held); returns the keys evicted for room,
        including ``key`` itself if it alone exceeds the limit."""
        new = Entry(seq, encoded, file)
        current = self._entries.get(key)
        if current is not None and seq and current.seq >= seq:
            self._entries.move_to_end(key)
            self._released(new)
            return []
        if current is not None:
            self.bytes -= current.size
            self._released(current)
        if new.size > self.max_bytes:
            self._released(new)
            if current is not None:
                del self._entries[key]
                self._note_dropped(key)
            return [key]
        self._entries[key] = new
        self._entries.move_to_end(key)
        self.bytes += new.size
        self._added[key] = new.size
        self._dropped.discard(key)
        return self._evict()

    def update(self, key: str, seq: int, encoded: Encoded | None, file: str = "") -> list[str]:
        """Applies a pushed change of a held key (``None``: deleted; ignored if not held or
        not newer); returns the keys evicted because the value grew (``key`` itself if it no
        longer fits)."""
        current = self._entries.get(key)
        new = Entry(seq, encoded, file) if encoded is not None else None
        if current is None or (new is not None and seq <= current.seq):
            if new is not None:
                self._released(new)
            return []
        if new is None:
            self.drop(key)
            return []
        if new.size > self.max_bytes:
            self._released(new)
            self.drop(key)
            return [key]
        self.bytes += new.size - current.size
        self._released(current)
        self._entries[key] = new
        self._added[key] = new.size
        return self._evict(keep=key)

    def _released(self, entry: Entry) -> None:
        if entry.file and self._release is not None:
            self._release(entry)

    def _evict(self, keep: str | None = None) -> list[str]:
        """Drops the least recently used entries (never ``keep``) until within the limit."""
        evicted = []
        for victim in list(self._entries):
            if self.bytes <= self.max_bytes:
                break
            if victim == keep:
                continue
            dropped = self._entries.pop(victim)
            self.bytes -= dropped.size
            self._released(dropped)
            self.evictions += 1
            self._note_dropped(victim)
            evicted.append(victim)
        return evicted

    def drop(self, key: str) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self.bytes -= entry.size
        self._released(entry)
        self._note_dropped(key)
        return True

    def clear(self) -> list[str]:
        keys = list(self._entries)
        for key in keys:
            self.drop(key)
        return keys

    def held(self) -> dict[str, int]:
        return {key: entry.size for key, entry in self._entries.items()}

    def report(self, full: bool = False) -> Report | None:
        """What changed since the last report (everything if ``full``); ``None`` if nothing."""
        if full:
            report = Report(True, self.held(), [])
        elif self._added or self._dropped:
            report = Report(False, dict(self._added), sorted(self._dropped))
        else:
            return None
        self._added.clear()
        self._dropped.clear()
        return report

    def _note_dropped(self, key: str) -> None:
        self._added.pop(key, None)
        self._dropped.add(key)
