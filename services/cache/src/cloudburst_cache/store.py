"""The in-memory lattice store: merge on write, wait-for-key on read, change notifications,
and recent versions for snapshot reads. No I/O: the server layer wires notifications to
subscribers.

Snapshot reads: every change has a sequence number in one total order, and each key keeps
its recent versions (at most ``HISTORY_VERSIONS``, none older than ``HISTORY_S`` seconds
except the latest). ``get_as_of(key, seq)`` returns the version a snapshot at ``seq`` sees;
a snapshot older than what is kept raises :class:`SnapshotExpiredError`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cloudburst_lattices import Lattice, LatticeDecodeError, LatticeTypeError, decode, encode
from cloudburst_protocol.errors import InvalidArgumentError, SnapshotExpiredError

from cloudburst_cache.values import describe_kind


@dataclass(frozen=True, slots=True)
class Version:
    """A key's value after one change: its sequence number in the store's total order of
    changes, the lattice, and its encoding. A version loaded from disk is decoded when its
    key is first merged into (``lattice`` ``None`` until then), so a restart only reads."""

    seq: int
    _lattice: Lattice | None = field(compare=False, repr=False)
    encoded: bytes

    @property
    def lattice(self) -> Lattice:
        if self._lattice is None:
            object.__setattr__(self, "_lattice", decode(self.encoded))  # a cache: frozen
        assert self._lattice is not None
        return self._lattice


Listener = Callable[[str, "Version | None"], None]

HISTORY_VERSIONS = 16
HISTORY_S = 60.0
HISTORY_MAX_BYTES = 256 * 1024 * 1024
"""Replaced versions kept for snapshot reads, in bytes over all keys (oldest dropped first):
without it, rewriting a few large values would keep sixteen copies of each."""


def decode_write(key: str, encoded: bytes) -> Lattice:
    """The lattice a write carries, checked the same way by every storage backend."""
    if not key:
        raise InvalidArgumentError("key must not be empty")
    try:
        return decode(encoded)
    except LatticeDecodeError as exc:
        raise InvalidArgumentError(f"value for key {key!r} is not a lattice: {exc}") from exc


class LatticeStore:
    """Keys to lattices. Every write merges, so concurrent writers never lose an update.

    Every change gets the next sequence number; listeners hear of each change (``None`` for a
    deletion). Readers may wait for a missing key: the write that creates it wakes them.
    """

    def __init__(self, history_versions: int | None = None, history_s: float | None = None) -> None:
        self.history_versions = HISTORY_VERSIONS if history_versions is None else history_versions
        self.history_s = HISTORY_S if history_s is None else history_s
        self._values: dict[str, Version] = {}
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._listeners: list[Listener] = []
        # Older states per key, oldest first: (sequence number from which it held, the
        # version or None for a deletion, when it was replaced); and the sequence number of
        # the newest state dropped from each key's history.
        self._history: dict[str, deque[tuple[int, Version | None, float]]] = {}
        self._forgotten: dict[str, int] = {}
        self.history_max_bytes = HISTORY_MAX_BYTES
        self.history_bytes = 0
        self._history_order: deque[tuple[str, int]] = deque()  # (key, since), oldest first
        self.seq = 0
        self.bytes = 0
        # Restored from disk up to this sequence number, without the history before it:
        # older snapshots are refused (see restore).
        self.floor = 0
        # Snapshots before this seq are refused for keys of which nothing is kept.
        self._absent_floor = 0

    def __len__(self) -> int:
        return len(self._values)

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def restore(self, rows: Iterable[tuple[str, int, bytes]], seq: int) -> None:
        """Loads stored values (key, sequence number, encoding) and continues the total
        order after ``seq``. The history of replaced versions is not stored, so a snapshot
        before ``seq`` is refused with :class:`SnapshotExpiredError` rather than answered
        wrongly."""
        newest = max(self.seq, seq)
        for key, version_seq, encoded in rows:
            self._values[key] = Version(version_seq, None, encoded)
            self.bytes += len(encoded)
            newest = max(newest, version_seq)
        self.seq = self.floor = newest

    def get(self, key: str) -> bytes | None:
        version = self._values.get(key)
        return version.encoded if version is not None else None

    def version(self, key: str) -> Version | None:
        return self._values.get(key)

    def get_as_of(self, key: str, seq: int) -> Version | None:
        """The version of ``key`` a snapshot at ``seq`` sees (``None``: it did not exist)."""
        current = self._values.get(key)
        if current is not None and current.seq <= seq:
            return current
        for since, version, _ in reversed(self._history.get(key, ())):
            if since <= seq:
                return version
        if seq < self.floor:
            raise SnapshotExpiredError(
                f"the version of {key!r} at snapshot {seq} is no longer kept (the storage "
                f"restarted at {self.floor}; versions from before a restart are not kept)"
            )
        if self._forgotten.get(key, 0) or (
            seq < self._absent_floor and key not in self._values and key not in self._history
        ):
            raise SnapshotExpiredError(
                f"the version of {key!r} at snapshot {seq} is no longer kept "
                f"(versions are kept for {self.history_s:g} s, at most {self.history_versions} "
                f"per key and {self.history_max_bytes // (1 << 20)} MiB in all)"
            )
        return None  # the key did not exist yet

    def put(self, key: str, encoded: bytes) -> Version:
        """Merges an encoded lattice into ``key``; returns the merged version."""
        incoming = decode_write(key, encoded)
        current = self._values.get(key)
        if current is None:
            merged, merged_bytes = incoming, bytes(encoded)
        else:
            old = current.lattice
            if type(old) is not type(incoming):
                raise InvalidArgumentError(
                    f"key {key!r} holds {describe_kind(old)}; {describe_kind(incoming)} cannot "
                    "be merged into it (delete the key first to change its kind)"
                )
            try:
                merged = old.merge(incoming)  # type: ignore[arg-type]  # same type checked above
            except LatticeTypeError as exc:  # a map key holding two different types
                raise InvalidArgumentError(
                    f"the value for key {key!r} cannot be merged into what it holds: {exc}"
                ) from None
            if merged == old:
                self._wake(key)
                return current  # nothing changed: no new version
            # The write won outright (a newer plain value): keep its bytes, no re-encoding.
            merged_bytes = bytes(encoded) if merged is incoming else encode(merged)
            self.bytes -= len(current.encoded)
            self._remember(key, current.seq, current)
        self.seq += 1
        version = Version(self.seq, merged, merged_bytes)
        self._values[key] = version
        self.bytes += len(merged_bytes)
        self._wake(key)
        for listener in list(self._listeners):
            listener(key, version)
        return version

    def delete(self, key: str) -> bool:
        version = self._values.pop(key, None)
        if version is None:
            return False
        self._remember(key, version.seq, version)
        self.seq += 1
        self._remember(key, self.seq, None)  # the deletion itself, for snapshots after it
        self.bytes -= len(version.encoded)
        for listener in list(self._listeners):
            listener(key, None)
        return True

    def _remember(self, key: str, since: int, replaced: Version | None) -> None:
        """Keeps a replaced state for snapshot reads, within the history bounds."""
        now = time.monotonic()
        history = self._history.setdefault(key, deque())
        history.append((since, replaced, now))
        self.history_bytes += _size(replaced)
        self._history_order.append((key, since))
        while history and (
            len(history) > self.history_versions or now - history[0][2] > self.history_s
        ):
            self._forget_oldest(key, history)
        self.trim(now)
        if len(self._history_order) > 4 * self.history_versions * (len(self._history) + 1):
            # Entries dropped by the per-key bounds linger in the order: rebuild it.
            entries = [(t, k, s) for k, h in self._history.items() for s, _, t in h]
            self._history_order = deque((k, s) for _, k, s in sorted(entries))

    def trim(self, now: float | None = None) -> None:
        """Drops replaced states over all keys, oldest first, past the byte bound or older
        than ``history_s`` — also of keys never written again (deleted or expired results),
        so the history's memory follows the write rate, not the number of keys ever
        written."""
        now = time.monotonic() if now is None else now
        order = self._history_order
        while order:
            oldest_key, oldest_since = order[0]
            held = self._history.get(oldest_key)
            if held and held[0][0] == oldest_since:
                if (
                    self.history_bytes <= self.history_max_bytes
                    and now - held[0][2] <= self.history_s
                ):
                    return
                self._forget_oldest(oldest_key, held)
            order.popleft()

    def _forget_oldest(self, key: str, history: deque[tuple[int, Version | None, float]]) -> None:
        dropped_since, dropped, _ = history.popleft()
        self.history_bytes -= _size(dropped)
        if history or key in self._values:
            self._forgotten[key] = dropped_since
            return
        # An absent key with no history left: nothing of it is kept, not even its name;
        # snapshots older than what was dropped are refused for every absent key.
        if self._history.get(key) is history:
            del self._history[key]
        self._forgotten.pop(key, None)
        self._absent_floor = max(self._absent_floor, dropped_since)

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self._values if k.startswith(prefix))

    def _wake(self, key: str) -> None:
        for waiter in self._waiters.pop(key, ()):
            if not waiter.done():
                waiter.set_result(None)

    async def wait_for(self, keys: Iterable[str], timeout: float) -> None:
        """Returns once every key exists or ``timeout`` seconds have passed."""
        loop = asyncio.get_running_loop()
        waiting: list[tuple[str, asyncio.Future[None]]] = []
        for key in keys:
            if key not in self._values:
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiters.setdefault(key, []).append(waiter)
                waiting.append((key, waiter))
        if not waiting:
            return
        try:
            await asyncio.wait([w for _, w in waiting], timeout=timeout)
        finally:
            for key, waiter in waiting:
                drop_waiter(self._waiters, key, waiter)


def drop_waiter(
    waiters: dict[str, list[asyncio.Future[None]]], key: str, waiter: asyncio.Future[None]
) -> None:
    """Cancels a reader's wait for ``key`` and forgets it (and the key, once nobody waits)."""
    waiter.cancel()
    pending = waiters.get(key)
    if pending is not None and waiter in pending:
        pending.remove(waiter)
        if not pending:
            del waiters[key]


def _size(version: Version | None) -> int:
    return len(version.encoded) if version is not None else 0
