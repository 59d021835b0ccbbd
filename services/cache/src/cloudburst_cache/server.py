"""The cache service in its two roles.

``authority``: the storage authority, :class:`LatticeStore` served over gRPC, with a
subscription stream that pushes every change of a watched key to the node caches.

``node``: a node's cache. Reads are served from memory when the key is held (a hit);
otherwise the key is watched on the authority's stream, which answers with its current value
(a miss) and from then on pushes each change — so a held key is as fresh as the push, never
polled. Writes go through to the authority, and the merged result is kept. Held keys are
reported to the scheduler, which places calls where their data is.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TypeVar

import grpc
import grpc.aio
import structlog
from cloudburst_protocol.auth import service_credentials
from cloudburst_protocol.bulk import MIN_BYTES, BulkDir
from cloudburst_protocol.channels import aio_channel
from cloudburst_protocol.errors import CloudburstError, UnavailableError
from cloudburst_protocol.gen import (
    cache_pb2,
    cache_pb2_grpc,
    common_pb2,
    scheduler_pb2,
    scheduler_pb2_grpc,
)
from cloudburst_protocol.grpc_errors import error_from_rpc
from cloudburst_protocol.runtime import listen, new_server, run_until_stopped, set_serving

from cloudburst_cache.backends import StorageBackend, Versioned, open_backend
from cloudburst_cache.lending import Lender
from cloudburst_cache.node import Encoded, Entry, NodeCacheState
from cloudburst_cache.settings import CacheSettings

log = structlog.get_logger("cloudburst.cache")
T = TypeVar("T")

MAX_WAIT_MS = 600_000
FETCH_TIMEOUT_S = 30.0
REPORT_INTERVAL_S = 0.05
RECONNECT_MAX_S = 2.0
WATERMARK_DELAY_S = 0.002
RECONNECT_WAIT_S = 10.0
SWEEP_INTERVAL_S = 30.0
EXPIRE_INTERVAL_S = 1.0

Lend = Callable[[str, int, Encoded], "str | None"]
"""Hands a large value's version to a reader as a bulk file (its name), or ``None``: inline."""


# -- authority ------------------------------------------------------------------------------


class AuthorityServicer(cache_pb2_grpc.CacheServicer):
    """The storage authority over a :class:`~cloudburst_cache.backends.StorageBackend`: the
    embedded store, or Redis shared by several authority processes."""

    def __init__(self, backend: StorageBackend, bulk: BulkDir | None = None) -> None:
        self.backend = backend
        self.bulk = bulk
        self.lender = Lender(bulk) if bulk is not None else None
        # Whether any reader has shared the bulk directory (in containers none does): only
        # then are files of large values written ahead of their first read.
        self.sharing = False

    def lend_to(self, reader_id: str) -> Lend | None:
        """How to hand large values to a reader that sees bulk directory ``reader_id``."""
        if self.lender is None or self.bulk is None or not self.bulk.shares(reader_id):
            return None
        self.sharing = True
        return self.lender.lend

    async def Get(
        self, request: cache_pb2.CacheGetRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.CacheGetResponse:
        keys = list(request.keys)
        if request.wait_ms and not request.as_of:
            await self.backend.wait_for(keys, min(request.wait_ms, MAX_WAIT_MS) / 1000)
        found: dict[str, tuple[int, bytes]] = {}
        if request.as_of:
            versions = [await self.backend.get_as_of(key, request.as_of) for key in keys]
        else:
            versions = await self.backend.get(keys)
        for key, version in zip(keys, versions, strict=True):
            if version is not None:
                found[key] = (version.seq, version.encoded)
        return _response(keys, found, [], request.known, self.lend_to(request.bulk_id))

    async def Watermark(
        self, request: common_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> cache_pb2.WatermarkReply:
        return cache_pb2.WatermarkReply(seq=await self.backend.watermark())

    async def Put(
        self, request: cache_pb2.CachePutRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.CachePutResponse:
        # Entries that came as files, by position: their bytes and the file kept for them.
        taken: dict[int, tuple[bytes, str]] = {}
        if any(entry.bulk for entry in request.entries):
            if self.bulk is None or not self.bulk.shares(request.bulk_id):
                return cache_pb2.CachePutResponse(resend_inline=True)
            self.sharing = True
            try:
                for position, entry in enumerate(request.entries):
                    if entry.bulk:
                        mapped, kept = self.bulk.adopt(entry.bulk, populate=True)
                        taken[position] = (mapped[:], kept)
            except BaseException:
                for _, kept in taken.values():
                    self.bulk.release(kept)
                raise
        reply = cache_pb2.CachePutResponse()
        try:
            writes = [
                (entry.key, taken.get(position, (entry.lattice, ""))[0], entry.expire_ms)
                for position, entry in enumerate(request.entries)
            ]
            versions = await self.backend.put_many(writes)  # one commit for the request
            for position, (entry, version) in enumerate(
                zip(request.entries, versions, strict=True)
            ):
                lattice, kept = taken.get(position, (entry.lattice, ""))
                exact = version.encoded == lattice
                if kept and self.lender is not None and exact:
                    self.lender.hold(entry.key, version.seq, kept, len(lattice))
                    del taken[position]  # the lender keeps the file now
                elif self.lender is not None and self.sharing and len(version.encoded) >= MIN_BYTES:
                    with contextlib.suppress(OSError):  # the first read would write it instead
                        self.lender.prepare(entry.key, version.seq, version.encoded)
                # Large values are not echoed back when the merge kept exactly what was sent.
                echoed = b"" if exact else version.encoded
                reply.entries.add(key=entry.key, lattice=echoed, seq=version.seq)
        finally:
            if self.bulk is not None:
                for _, kept in taken.values():  # files nobody keeps (or a write that failed)
                    self.bulk.release(kept)
        return reply

    async def Delete(
        self, request: cache_pb2.CacheDeleteRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.Empty:
        for key in request.keys:
            await self.backend.delete(key)
        return common_pb2.Empty()

    async def expire(self) -> int:
        """Deletes the keys whose expiry has come, unless written again since; how many."""
        return await self.backend.expire_due()

    async def ListKeys(
        self, request: cache_pb2.ListKeysRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.ListKeysResponse:
        return cache_pb2.ListKeysResponse(keys=await self.backend.keys(request.prefix))

    async def Subscribe(
        self,
        request_iterator: AsyncIterator[cache_pb2.SubscribeRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[cache_pb2.KeyUpdate]:
        async for update in _Subscription(self.backend, self.lend_to).run(
            request_iterator, context
        ):
            yield update

    async def Stats(
        self, request: common_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> cache_pb2.CacheStats:
        stats = await self.backend.stats()
        return cache_pb2.CacheStats(role="authority", keys=stats.keys, bytes=stats.bytes)


class _Subscription:
    """One node cache's stream: each watch is answered with the key's current value, every
    change of a watched key is pushed, and watermarks move the subscriber's snapshot point."""

    def __init__(self, backend: StorageBackend, lend_to: Callable[[str], Lend | None]) -> None:
        self.backend = backend
        self.lend_to = lend_to
        self.lend: Lend | None = None
        self.watched: set[str] = set()
        # Keys whose watch is being answered, and those of them changed meanwhile: with a
        # remote store the read and the change feed race, and an answer read before a
        # pushed change must not follow it (the push, or a later one, is the newer value).
        self.answering: set[str] = set()
        self.changed_meanwhile: set[str] = set()
        self.outbox: asyncio.Queue[cache_pb2.KeyUpdate] = asyncio.Queue()
        self.lost = asyncio.Event()
        self.heartbeat: list[asyncio.TimerHandle] = []

    def send_watermark(self) -> None:
        self.heartbeat.clear()
        self.outbox.put_nowait(cache_pb2.KeyUpdate(watermark=self.backend.delivered))

    def on_change(self, key: str, version: Versioned | None) -> None:
        if key in self.answering:
            self.changed_meanwhile.add(key)
        if key in self.watched:
            self.outbox.put_nowait(_update(key, version, self.backend.delivered, self.lend))
            if version is None:
                self.watched.discard(key)
        elif not self.heartbeat:
            # Changes to keys this subscriber does not hold still move its snapshot point
            # forward: tell it, coalesced.
            loop = asyncio.get_running_loop()
            self.heartbeat.append(loop.call_later(WATERMARK_DELAY_S, self.send_watermark))

    async def read_requests(self, requests: AsyncIterator[cache_pb2.SubscribeRequest]) -> None:
        async for request in requests:
            if request.bulk_id:
                self.lend = self.lend_to(request.bulk_id)
            watches = list(request.watch)
            keys = [watch.key for watch in watches]
            self.watched.update(keys)
            self.answering.update(keys)
            try:
                versions = await self.backend.get(keys) if keys else []
                for watch, version in zip(watches, versions, strict=True):
                    if watch.key in self.changed_meanwhile:
                        continue
                    if version is None:
                        self.watched.discard(watch.key)
                        self.outbox.put_nowait(_update(watch.key, None, self.backend.delivered))
                    elif version.seq > watch.seq:
                        update = _update(watch.key, version, self.backend.delivered, self.lend)
                        self.outbox.put_nowait(update)
            finally:
                self.answering.clear()
                self.changed_meanwhile.clear()
            self.watched.difference_update(request.unwatch)

    async def run(
        self,
        requests: AsyncIterator[cache_pb2.SubscribeRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[cache_pb2.KeyUpdate]:
        self.backend.add_listener(self.on_change, self.lost.set)
        self.outbox.put_nowait(cache_pb2.KeyUpdate(watermark=self.backend.delivered))
        reader = asyncio.create_task(self.read_requests(requests))
        lost = asyncio.create_task(self.lost.wait())
        try:
            while not reader.done() or not self.outbox.empty():
                getter = asyncio.ensure_future(self.outbox.get())
                done, _ = await asyncio.wait(
                    {getter, reader, lost}, return_when=asyncio.FIRST_COMPLETED
                )
                if getter in done:
                    yield getter.result()
                else:
                    getter.cancel()
                if self.lost.is_set():
                    # Changes may have been missed: the node cache must drop what it holds.
                    await context.abort(
                        grpc.StatusCode.UNAVAILABLE,
                        f"the change feed of {self.backend.name} broke",
                    )
        finally:
            reader.cancel()
            lost.cancel()
            for handle in self.heartbeat:
                handle.cancel()
            self.backend.remove_listener(self.on_change)


def _response(
    keys: list[str],
    found: Mapping[str, tuple[int, Encoded]],
    misses: list[str],
    known: Mapping[str, int],
    lend: Lend | None = None,
) -> cache_pb2.CacheGetResponse:
    """A Get answer: each found key's value once (building messages copies values, so it is
    done only here; large ones go as files to readers sharing the bulk directory), or just
    its name when the reader already holds that version."""
    reply = cache_pb2.CacheGetResponse(misses=misses)
    for key in dict.fromkeys(keys):
        value = found.get(key)
        if value is None:
            continue
        seq, encoded = value
        if seq and known.get(key) == seq:
            reply.unchanged.append(key)
        elif (name := _lent(lend, key, seq, encoded)) is not None:
            reply.entries.add(key=key, bulk=name, seq=seq)
        else:
            reply.entries.add(key=key, lattice=_inline(encoded), seq=seq)
    return reply


def _update(
    key: str, version: Versioned | None, watermark: int, lend: Lend | None = None
) -> cache_pb2.KeyUpdate:
    if version is None:
        return cache_pb2.KeyUpdate(key=key, absent=True, watermark=watermark)
    name = _lent(lend, key, version.seq, version.encoded)
    if name is not None:
        return cache_pb2.KeyUpdate(key=key, bulk=name, seq=version.seq, watermark=watermark)
    return cache_pb2.KeyUpdate(
        key=key, lattice=version.encoded, seq=version.seq, watermark=watermark
    )


def _lent(lend: Lend | None, key: str, seq: int, encoded: Encoded) -> str | None:
    if lend is None or len(encoded) < MIN_BYTES:
        return None
    try:
        return lend(key, seq, encoded)
    except OSError as exc:  # a full or broken bulk directory: send the bytes instead
        log.warning("bulk hand-off failed; sending inline", key=key, error=str(exc))
        return None


def _inline(encoded: Encoded) -> bytes:
    return encoded if isinstance(encoded, bytes) else encoded[:]


# -- node cache -----------------------------------------------------------------------------


class NodeCache:
    """A node's cache in front of the authority (see the module docstring)."""

    def __init__(self, settings: CacheSettings) -> None:
        self.settings = settings
        self.bulk = BulkDir.from_env()
        self.state = NodeCacheState(settings.max_bytes, release=self._release)
        self._channel = aio_channel(settings.authority_address, service_credentials())
        self.authority = cache_pb2_grpc.CacheStub(self._channel)
        self._requests: asyncio.Queue[cache_pb2.SubscribeRequest] = asyncio.Queue()
        self._fetching: dict[str, asyncio.Future[tuple[cache_pb2.KeyUpdate, Encoded]]] = {}
        self._connected = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # Every change up to this sequence number has reached this cache: what it holds is a
        # consistent snapshot as of here.
        self.watermark = 0

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._subscription()))
        self._tasks.append(asyncio.create_task(self._report_keys()))
        if self.bulk is not None:
            self._tasks.append(asyncio.create_task(_sweep(self.bulk)))
        await asyncio.wait_for(self._connected.wait(), 30)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self._channel.close()
        self.state.clear()  # releases the files it kept

    def lend_to(self, reader_id: str) -> Lend | None:
        if self.bulk is None or not self.bulk.shares(reader_id):
            return None
        return self._lend

    def _lend(self, key: str, seq: int, encoded: Encoded) -> str:
        assert self.bulk is not None
        entry = self.state.peek(key)
        if entry is not None and entry.seq == seq and entry.file:
            with contextlib.suppress(FileNotFoundError):
                return self.bulk.lend(entry.file)
        return self.bulk.write(encoded)

    def _release(self, entry: Entry) -> None:
        if self.bulk is not None:
            self.bulk.release(entry.file)

    def _received(self, update: cache_pb2.KeyUpdate) -> tuple[Encoded, str]:
        """An update's value (and the file kept for it, if it came in bulk)."""
        if not update.bulk:
            return update.lattice, ""
        if self.bulk is None:
            raise UnavailableError("the storage authority sent a bulk file to a cache without one")
        return self.bulk.adopt(update.bulk)

    # reads and writes

    async def watermark_now(self) -> int:
        await asyncio.wait_for(self._connected.wait(), FETCH_TIMEOUT_S)
        return self.watermark

    async def get_as_of(
        self, keys: list[str], as_of: int, known: Mapping[str, int], lend: Lend | None = None
    ) -> cache_pb2.CacheGetResponse:
        """A snapshot read: a held version serves it when it is the one the snapshot sees
        (held, not newer than the snapshot, and the cache is caught up past it); otherwise
        the authority answers from its version history."""
        found: dict[str, tuple[int, Encoded]] = {}
        missing: list[str] = []
        for key in dict.fromkeys(keys):
            entry = self.state.lookup(key) if as_of <= self.watermark else None
            if entry is not None and entry.seq <= as_of:
                found[key] = (entry.seq, entry.encoded)
            else:
                missing.append(key)
        if missing:
            request = cache_pb2.CacheGetRequest(keys=missing, as_of=as_of, known=known)
            reply: cache_pb2.CacheGetResponse = await self._call(
                self.authority.Get(request, timeout=FETCH_TIMEOUT_S)
            )
            for fetched in reply.entries:
                found[fetched.key] = (fetched.seq, fetched.lattice)
            for key in reply.unchanged:
                found[key] = (known[key], b"")
        return _response(keys, found, missing, known, lend)

    async def get(
        self, keys: list[str], wait_ms: int, known: Mapping[str, int], lend: Lend | None = None
    ) -> cache_pb2.CacheGetResponse:
        found: dict[str, tuple[int, Encoded]] = {}
        missing: list[str] = []
        for key in dict.fromkeys(keys):
            entry = self.state.lookup(key)
            if entry is None:
                missing.append(key)
            else:
                found[key] = (entry.seq, entry.encoded)
        if missing:
            for key, (update, value) in zip(missing, await self._fetch(missing), strict=True):
                if not update.absent:
                    found[key] = (update.seq, value)
            absent = [k for k in missing if k not in found]
            if absent and wait_ms:
                reply = await self._call(
                    self.authority.Get(
                        cache_pb2.CacheGetRequest(keys=absent, wait_ms=wait_ms),
                        timeout=wait_ms / 1000 + FETCH_TIMEOUT_S,
                    )
                )
                for entry in reply.entries:
                    found[entry.key] = (entry.seq, entry.lattice)
                    self._keep(entry.key, entry.seq, entry.lattice)
        return _response(keys, found, missing, known, lend)

    async def put(
        self, entries: list[cache_pb2.KeyLattice], keep: bool = True
    ) -> cache_pb2.CachePutResponse:
        reply: cache_pb2.CachePutResponse = await self._call(
            self.authority.Put(cache_pb2.CachePutRequest(entries=entries), timeout=FETCH_TIMEOUT_S)
        )
        sent = {entry.key: entry.lattice for entry in entries}
        for entry in reply.entries:
            if keep:
                # An empty lattice: the merge kept exactly what was sent.
                self._keep(entry.key, entry.seq, entry.lattice or sent[entry.key])
            elif entry.key in self.state:
                # Held already (and watched): take the new version now rather than by push.
                self.state.update(entry.key, entry.seq, entry.lattice or sent[entry.key])
        return reply

    async def delete(self, keys: list[str]) -> None:
        await self._call(
            self.authority.Delete(cache_pb2.CacheDeleteRequest(keys=keys), timeout=FETCH_TIMEOUT_S)
        )
        for key in keys:
            if self.state.drop(key):
                self._requests.put_nowait(cache_pb2.SubscribeRequest(unwatch=[key]))

    async def list_keys(self, prefix: str) -> cache_pb2.ListKeysResponse:
        return await self._call(
            self.authority.ListKeys(
                cache_pb2.ListKeysRequest(prefix=prefix), timeout=FETCH_TIMEOUT_S
            )
        )

    def stats(self) -> cache_pb2.CacheStats:
        s = self.state
        return cache_pb2.CacheStats(
            role="node",
            node_id=self.settings.node_id,
            keys=len(s),
            bytes=s.bytes,
            hits=s.hits,
            misses=s.misses,
            evictions=s.evictions,
            max_bytes=s.max_bytes,
        )

    def _keep(self, key: str, seq: int, encoded: bytes) -> None:
        """Holds a version the authority just gave us and keeps it fresh by watching it."""
        held = key in self.state
        evicted = self.state.store(key, seq, encoded)
        request = cache_pb2.SubscribeRequest(unwatch=evicted)
        if not held and key in self.state:
            request.watch.append(cache_pb2.WatchKey(key=key, seq=seq))
        if request.watch or request.unwatch:
            self._requests.put_nowait(request)

    async def _fetch(self, keys: list[str]) -> list[tuple[cache_pb2.KeyUpdate, Encoded]]:
        """Watches ``keys``; the stream answers with each one's current value (or absent)."""
        if not self._connected.is_set():
            # The stream to the authority is being re-established: wait for it, bounded.
            try:
                await asyncio.wait_for(self._connected.wait(), RECONNECT_WAIT_S)
            except TimeoutError:
                raise UnavailableError(
                    "the node cache is not connected to the storage authority"
                ) from None
        loop = asyncio.get_running_loop()
        futures = []
        new = []
        for key in keys:
            future = self._fetching.get(key)
            if future is None:
                future = self._fetching[key] = loop.create_future()
                new.append(key)
            futures.append(future)
        if new:
            self._requests.put_nowait(
                cache_pb2.SubscribeRequest(watch=[cache_pb2.WatchKey(key=k) for k in new])
            )
        try:
            return list(await asyncio.wait_for(asyncio.gather(*futures), FETCH_TIMEOUT_S))
        except TimeoutError:
            raise UnavailableError("the storage authority did not answer in time") from None

    async def _call(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, self.settings.authority_address) from None

    # the subscription stream

    async def _subscription(self) -> None:
        backoff = 0.05
        while True:
            try:
                await self._subscribe_once()
            except (grpc.RpcError, OSError) as exc:
                log.warning("authority stream down", error=str(exc)[:200])
            self._connected.clear()
            # Without the stream nothing held can be trusted to be fresh.
            self.state.clear()
            self.watermark = 0
            for future in self._fetching.values():
                if not future.done():
                    future.set_exception(UnavailableError("the storage authority went away"))
            self._fetching.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RECONNECT_MAX_S)

    async def _subscribe_once(self) -> None:
        # A fresh queue per stream: requests of a previous stream are void, and that stream's
        # request reader (which may linger) must not take this stream's requests.
        queue: asyncio.Queue[cache_pb2.SubscribeRequest] = asyncio.Queue()
        self._requests = queue

        async def requests() -> AsyncIterator[cache_pb2.SubscribeRequest]:
            while True:
                yield await queue.get()

        if self.bulk is not None:
            queue.put_nowait(cache_pb2.SubscribeRequest(bulk_id=self.bulk.id))

        call = self.authority.Subscribe(requests(), wait_for_ready=True)
        async for update in call:
            if not self._connected.is_set():
                # The authority's first message (a watermark) proves the stream is up.
                self._connected.set()
                log.info(
                    "subscribed to the storage authority",
                    authority=self.settings.authority_address,
                )
            self.watermark = max(self.watermark, update.watermark)
            if not update.key:
                continue  # a watermark only
            future = self._fetching.pop(update.key, None)
            try:
                value, file = self._received(update)
            except (OSError, ValueError, CloudburstError) as exc:
                # The value cannot be read: forget the key (a later read fetches it again).
                log.error("bulk value lost in hand-off", key=update.key, error=str(exc))
                self.state.drop(update.key)
                self._requests.put_nowait(cache_pb2.SubscribeRequest(unwatch=[update.key]))
                if future is not None and not future.done():
                    future.set_exception(UnavailableError(f"reading {update.key!r} failed"))
                continue
            if future is not None:
                if not update.absent:
                    evicted = self.state.store(update.key, update.seq, value, file)
                    if evicted:
                        self._requests.put_nowait(cache_pb2.SubscribeRequest(unwatch=evicted))
                if not future.done():
                    future.set_result((update, value))
            else:
                evicted = self.state.update(
                    update.key, update.seq, None if update.absent else value, file
                )
                if evicted:
                    self._requests.put_nowait(cache_pb2.SubscribeRequest(unwatch=evicted))

    # locality reports

    async def _report_keys(self) -> None:
        channel = aio_channel(self.settings.scheduler_address, service_credentials())
        stub = scheduler_pb2_grpc.SchedulerStub(channel)
        try:
            while True:
                try:
                    await self._report_session(stub)
                except (grpc.RpcError, OSError) as exc:
                    log.info("key reports paused", error=str(exc)[:200])
                await asyncio.sleep(1.0)
        finally:
            await channel.close()

    async def _report_session(self, stub: scheduler_pb2_grpc.SchedulerStub) -> None:
        async def reports() -> AsyncIterator[scheduler_pb2.KeyReport]:
            full = True
            while True:
                report = self.state.report(full=full)
                full = False
                if report is not None:
                    yield scheduler_pb2.KeyReport(
                        node_id=self.settings.node_id,
                        full=report.full,
                        held=[scheduler_pb2.KeySize(key=k, size=v) for k, v in report.held.items()],
                        dropped=report.dropped,
                    )
                await asyncio.sleep(REPORT_INTERVAL_S)

        await stub.ReportKeys(reports(), wait_for_ready=True)


class NodeCacheServicer(cache_pb2_grpc.CacheServicer):
    def __init__(self, cache: NodeCache) -> None:
        self.cache = cache

    async def Get(
        self, request: cache_pb2.CacheGetRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.CacheGetResponse:
        keys = list(request.keys)
        lend = self.cache.lend_to(request.bulk_id)
        if request.as_of:
            return await self.cache.get_as_of(keys, request.as_of, request.known, lend)
        return await self.cache.get(keys, min(request.wait_ms, MAX_WAIT_MS), request.known, lend)

    async def Watermark(
        self, request: common_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> cache_pb2.WatermarkReply:
        return cache_pb2.WatermarkReply(seq=await self.cache.watermark_now())

    async def Put(
        self, request: cache_pb2.CachePutRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.CachePutResponse:
        return await self.cache.put(list(request.entries), keep=not request.write_through_only)

    async def Delete(
        self, request: cache_pb2.CacheDeleteRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.Empty:
        await self.cache.delete(list(request.keys))
        return common_pb2.Empty()

    async def ListKeys(
        self, request: cache_pb2.ListKeysRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.ListKeysResponse:
        return await self.cache.list_keys(request.prefix)

    async def Stats(
        self, request: common_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> cache_pb2.CacheStats:
        return self.cache.stats()


# -- process ----------------------------------------------------------------------------------


class CacheServer:
    """The cache process in either role: start, serve, stop gracefully."""

    def __init__(self, settings: CacheSettings, backend: StorageBackend | None = None) -> None:
        self.settings = settings
        self.backend: StorageBackend | None = None
        self.authority: AuthorityServicer | None = None
        self.node: NodeCache | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._expirer: asyncio.Task[None] | None = None
        self._server, self._health = new_server("the cache")
        servicer: cache_pb2_grpc.CacheServicer
        if settings.role == "node":
            if not settings.authority_address:
                raise CloudburstError("a node cache needs CLOUDBURST_STORAGE_ADDRESS")
            self.node = NodeCache(settings)
            servicer = NodeCacheServicer(self.node)
        else:
            self.backend = (
                backend
                if backend is not None
                else open_backend(
                    settings.storage_url, settings.data_path, settings.fsync, settings.history_s
                )
            )
            self.authority = AuthorityServicer(self.backend, BulkDir.from_env())
            servicer = self.authority
        cache_pb2_grpc.add_CacheServicer_to_server(servicer, self._server)
        self.port = 0

    async def start(self) -> None:
        if self.backend is not None:
            await self.backend.start()
        if self.authority is not None and self.authority.bulk is not None:
            self._sweeper = asyncio.create_task(_sweep(self.authority.bulk))
        if self.authority is not None:
            self._expirer = asyncio.create_task(_expire(self.authority))
        if self.node is not None:
            await self.node.start()
        for address in self.settings.listen:
            port = listen(self._server, address)
            if port == 0:
                raise OSError(f"cache cannot listen on {address}")
            if not address.startswith("unix:"):
                self.port = port
        await self._server.start()
        await set_serving(self._health, True)
        log.info(
            "cache serving",
            role=self.settings.role,
            node_id=self.settings.node_id,
            listen=self.settings.listen,
            storage=self.backend.name if self.backend is not None else None,
        )

    async def stop(self, grace: float = 2.0) -> None:
        await set_serving(self._health, False)
        await self._server.stop(grace)
        if self.node is not None:
            await self.node.stop()
        for task in (self._sweeper, self._expirer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.backend is not None:
            await self.backend.close()
        if self.authority is not None and self.authority.lender is not None:
            self.authority.lender.close()

    async def __aenter__(self) -> CacheServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def _expire(authority: AuthorityServicer) -> None:
    """Deletes expired keys (call results, see CLOUDBURST_RESULT_TTL) every second."""
    while True:
        await asyncio.sleep(EXPIRE_INTERVAL_S)
        try:
            expired = await authority.expire()
        except CloudburstError as exc:  # the storage is unavailable: try again later
            log.warning("expiring keys failed", error=str(exc))
            continue
        if expired:
            log.debug("expired keys", keys=expired)


async def _sweep(bulk: BulkDir) -> None:
    """Removes bulk files their receivers or keepers left behind (they died first)."""
    while True:
        with contextlib.suppress(OSError):
            removed = bulk.sweep()
            if removed:
                log.info("swept stale bulk files", files=removed)
        await asyncio.sleep(SWEEP_INTERVAL_S)


async def serve(settings: CacheSettings) -> None:
    started = time.monotonic()
    server = CacheServer(settings)
    await server.start()
    log.debug("cache started", seconds=round(time.monotonic() - started, 3))
    with contextlib.suppress(asyncio.CancelledError):
        await run_until_stopped(asyncio.Event(), server.stop)
