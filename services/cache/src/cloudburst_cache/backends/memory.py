"""The embedded backend: :class:`~cloudburst_cache.store.LatticeStore` in this process,
persisted (unless ``CLOUDBURST_FSYNC=off``) by a :class:`~cloudburst_cache.persistence.DiskLog`.

Reads are answered from memory without suspending. A write is merged in memory (one total
order of changes, exact snapshot reads), then acknowledged once its commit returns (see
docs/storage.md, "Durability")."""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Iterable

import structlog

from cloudburst_cache.backends import (
    ChangeListener,
    LostListener,
    StorageStats,
    Versioned,
)
from cloudburst_cache.persistence import Change, DiskLog, StorageWriteError
from cloudburst_cache.store import LatticeStore, Version

log = structlog.get_logger("cloudburst.cache")

EXPIRE_BATCH = 1000
EXPIRE_BATCHES = 20
"""Expired keys deleted per commit, and commits per sweep (the sweep runs every second):
up to 20 000 expiries a second, each sweep bounded."""


class MemoryBackend:
    def __init__(self, store: LatticeStore | None = None, disk: DiskLog | None = None) -> None:
        self.store = store if store is not None else LatticeStore()
        self.disk = disk
        # Memory only: writes that asked to expire, (when, key, the version's seq).
        self._expiries: list[tuple[float, str, int]] = []
        # Keys whose last change failed to commit: their next write stores them in full.
        self._unstored: set[str] = set()
        self.recovered_keys = 0
        self._opened = False

    @property
    def name(self) -> str:
        if self.disk is None:
            return "memory"
        return f"memory (fsync {self.disk.mode}, {self.disk.directory})"

    @property
    def delivered(self) -> int:
        return self.store.seq

    async def start(self) -> None:
        if self.disk is not None and not self._opened:
            self._opened = True
            started = time.monotonic()
            recovered = self.disk.open()
            self.store.restore(((r.key, r.seq, r.encoded) for r in recovered.rows), recovered.seq)
            self.recovered_keys = len(recovered.rows)
            log.info(
                "storage recovered",
                directory=str(self.disk.directory),
                fsync=self.disk.mode,
                keys=self.recovered_keys,
                bytes=self.store.bytes,
                seq=self.store.seq,
                seconds=round(time.monotonic() - started, 3),
            )

    async def close(self) -> None:
        if self.disk is not None:
            self.disk.close()

    async def get(self, keys: list[str]) -> list[Versioned | None]:
        return [self.store.version(key) for key in keys]

    async def get_as_of(self, key: str, seq: int) -> Versioned | None:
        return self.store.get_as_of(key, seq)

    async def put(self, key: str, encoded: bytes, expire_ms: int = 0) -> Versioned:
        return (await self.put_many([(key, encoded, expire_ms)]))[0]

    async def put_many(self, writes: list[tuple[str, bytes, int]]) -> list[Versioned]:
        """Merges each write in order, then waits for one commit of all of them (a write
        that changed nothing waits for the commit of the version it returns)."""
        versions: list[Versioned] = []
        changes: list[Change] = []
        try:
            for key, encoded, expire_ms in writes:
                before = self.store.seq
                version = self.store.put(key, encoded)
                versions.append(version)
                if self.disk is None:
                    if expire_ms:
                        due = time.monotonic() + expire_ms / 1000
                        heapq.heappush(self._expiries, (due, key, version.seq))
                elif version.seq > before or key in self._unstored:
                    expires = int(time.time() * 1000) + expire_ms if expire_ms else None
                    changes.append(Change(key, version.seq, version.encoded, expires))
        finally:
            # Also when a later write was refused: what was merged before it is stored.
            if self.disk is not None and versions:
                await self._persist(changes)
        return versions

    async def delete(self, key: str) -> bool:
        deleted = self.store.delete(key)
        if self.disk is not None:
            if deleted or key in self._unstored:
                await self._persist([Change(key, self.store.seq, None)])
            else:
                await self.disk.write([])  # wait until a pending deletion is stored
        return deleted

    async def _persist(self, changes: list[Change]) -> None:
        """Commits ``changes`` (none: waits for what is pending); a key whose change failed
        is stored in full by its next write."""
        assert self.disk is not None
        try:
            await self.disk.write(changes)
        except StorageWriteError:
            self._unstored.update(change.key for change in changes)
            raise
        self._unstored.difference_update(change.key for change in changes)

    async def expire_due(self) -> int:
        """Deletes the keys whose expiry has come, unless written again since; how many.
        On disk: batches of ``EXPIRE_BATCH`` read from the expiry index, each deleted in
        one commit, at most ``EXPIRE_BATCHES`` per call. Also drops snapshot history past
        its age, so an idle store's memory shrinks too."""
        self.store.trim()
        if self.disk is None:
            now = time.monotonic()
            due: list[tuple[str, int]] = []
            while self._expiries and self._expiries[0][0] <= now:
                _, key, seq = heapq.heappop(self._expiries)
                due.append((key, seq))
            return len([self.store.delete(key) for key, seq in due if self._current(key, seq)])
        expired = 0
        for _ in range(EXPIRE_BATCHES):
            now_ms = int(time.time() * 1000)
            due = await asyncio.to_thread(self.disk.due, now_ms, EXPIRE_BATCH)
            changes = []
            for key, seq in due:
                if self._current(key, seq):
                    self.store.delete(key)
                if self.store.version(key) is None:  # expired now, or deleted uncommitted
                    changes.append(Change(key, self.store.seq, None))
            if changes:
                await self._persist(changes)
            expired += len(changes)
            if len(due) < EXPIRE_BATCH:
                break
        return expired

    def _current(self, key: str, seq: int) -> bool:
        current: Version | None = self.store.version(key)
        return current is not None and current.seq == seq

    async def keys(self, prefix: str = "") -> list[str]:
        return self.store.keys(prefix)

    async def wait_for(self, keys: Iterable[str], timeout: float) -> None:
        await self.store.wait_for(keys, timeout)

    async def watermark(self) -> int:
        return self.store.seq

    def add_listener(self, on_change: ChangeListener, on_lost: LostListener) -> None:
        # The embedded store's feed cannot break: ``on_lost`` is never called.
        self.store.add_listener(on_change)

    def remove_listener(self, on_change: ChangeListener) -> None:
        self.store.remove_listener(on_change)

    async def stats(self) -> StorageStats:
        return StorageStats(keys=len(self.store), bytes=max(0, self.store.bytes))
