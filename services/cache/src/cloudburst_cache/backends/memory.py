"""The embedded backend: :class:`~cloudburst_cache.store.LatticeStore` in this process.

Every method completes without suspending, so the authority behaves exactly as it did when
it used the store directly (one total order of changes, exact snapshot reads)."""

from __future__ import annotations

from collections.abc import Iterable

from cloudburst_cache.backends import (
    ChangeListener,
    LostListener,
    StorageStats,
    Versioned,
)
from cloudburst_cache.store import LatticeStore


class MemoryBackend:
    def __init__(self, store: LatticeStore | None = None) -> None:
        self.store = store if store is not None else LatticeStore()

    @property
    def name(self) -> str:
        return "memory"

    @property
    def delivered(self) -> int:
        return self.store.seq

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def get(self, keys: list[str]) -> list[Versioned | None]:
        return [self.store.version(key) for key in keys]

    async def get_as_of(self, key: str, seq: int) -> Versioned | None:
        return self.store.get_as_of(key, seq)

    async def put(self, key: str, encoded: bytes) -> Versioned:
        return self.store.put(key, encoded)

    async def delete(self, key: str) -> bool:
        return self.store.delete(key)

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
