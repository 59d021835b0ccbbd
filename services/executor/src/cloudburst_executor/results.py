"""Writing call results to the store without slowing calls down.

Every call's result is stored under its call id (so a future can be passed on or read later).
Those writes leave the critical path: the caller already has the value, so they are batched
— whatever finishes within ten milliseconds goes in one write — which keeps the
executor and the store from spending a round trip per call. Readers that need a result by id
wait for it (futures passed as arguments, ``connection.future(id).get()``), so a batch that
lands a moment later is never missed. Results written under a user's ``output_key`` are
written before the call answers, so the key is readable as soon as the call returns, and
kept by the node's cache; results under call ids are only written through it.
"""

from __future__ import annotations

import asyncio

import grpc
import structlog
from cloudburst_protocol.gen import cache_pb2, cache_pb2_grpc

log = structlog.get_logger("cloudburst.executor")

BATCH_WINDOW_S = 0.010
MAX_BATCH = 256
WRITE_TIMEOUT_S = 30.0


class ResultWriter:
    def __init__(self, cache: cache_pb2_grpc.CacheStub, expire_ms: int = 0) -> None:
        self._cache = cache
        # Results by call id expire (CLOUDBURST_RESULT_TTL); values under output keys stay.
        self.expire_ms = expire_ms
        self._pending: list[cache_pb2.KeyLattice] = []
        self._flush: asyncio.TimerHandle | None = None
        self._writes: set[asyncio.Task[None]] = set()

    def add(self, key: str, lattice: bytes) -> None:
        """Queues a write; it reaches the store within a few milliseconds."""
        self._pending.append(
            cache_pb2.KeyLattice(key=key, lattice=lattice, expire_ms=self.expire_ms)
        )
        if len(self._pending) >= MAX_BATCH:
            self._write_pending()
        elif self._flush is None:
            # Let the results finishing meanwhile join in.
            self._flush = asyncio.get_running_loop().call_later(BATCH_WINDOW_S, self._write_pending)

    async def write_now(self, entries: list[cache_pb2.KeyLattice]) -> None:
        """Writes ``entries`` and returns once the store has them."""
        await self._put(entries, through=False)

    async def stop(self) -> None:
        """Writes what is queued, then stops."""
        self._write_pending()
        if self._writes:
            await asyncio.wait(set(self._writes), timeout=WRITE_TIMEOUT_S)

    def _write_pending(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._put(batch))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _put(self, entries: list[cache_pb2.KeyLattice], through: bool = True) -> None:
        """Writes ``entries``; with ``through`` the node cache does not keep them (results by
        call id are rarely read again on this node, and keeping them costs a watch each)."""
        try:
            await self._cache.Put(
                cache_pb2.CachePutRequest(entries=entries, write_through_only=through),
                timeout=WRITE_TIMEOUT_S,
            )
        except grpc.RpcError as exc:
            log.error(
                "storing results failed",
                keys=[e.key for e in entries][:10],
                error=str(exc)[:200],
            )
