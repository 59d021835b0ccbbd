"""The in-memory lattice store: merge on write, wait-for-key on read. No I/O."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from cloudburst_lattices import Lattice, LatticeDecodeError, decode, encode
from cloudburst_protocol.errors import InvalidArgumentError


class LatticeStore:
    """Keys to lattices. Every write merges, so concurrent writers never lose an update.

    Values are kept decoded (to merge) and encoded (to serve reads without re-encoding).
    Readers may wait for a missing key: they are woken by the write that creates it.
    """

    def __init__(self) -> None:
        self._values: dict[str, tuple[Lattice, bytes]] = {}
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: str) -> bytes | None:
        entry = self._values.get(key)
        return entry[1] if entry is not None else None

    def put(self, key: str, encoded: bytes) -> bytes:
        """Merges an encoded lattice into ``key``; returns the encoded merged value."""
        if not key:
            raise InvalidArgumentError("key must not be empty")
        try:
            incoming = decode(encoded)
        except LatticeDecodeError as exc:
            raise InvalidArgumentError(f"value for key {key!r} is not a lattice: {exc}") from exc
        current = self._values.get(key)
        if current is None:
            merged, merged_bytes = incoming, encoded
        else:
            old = current[0]
            if type(old) is not type(incoming):
                raise InvalidArgumentError(
                    f"key {key!r} holds a {type(old).__name__}; "
                    f"cannot merge a {type(incoming).__name__} into it"
                )
            merged = old.merge(incoming)  # type: ignore[arg-type]  # same type checked above
            merged_bytes = current[1] if merged == old else encode(merged)
        self._values[key] = (merged, merged_bytes)
        for waiter in self._waiters.pop(key, ()):
            if not waiter.done():
                waiter.set_result(None)
        return merged_bytes

    def delete(self, key: str) -> bool:
        return self._values.pop(key, None) is not None

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self._values if k.startswith(prefix))

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
                waiter.cancel()
                pending = self._waiters.get(key)
                if pending is not None and waiter in pending:
                    pending.remove(waiter)
                    if not pending:
                        del self._waiters[key]
