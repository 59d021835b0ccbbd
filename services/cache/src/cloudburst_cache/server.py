"""The cache's gRPC servicer: thin handlers over :class:`LatticeStore`."""

from __future__ import annotations

import asyncio

import grpc.aio
import structlog
from cloudburst_protocol.gen import cache_pb2, cache_pb2_grpc, common_pb2
from cloudburst_protocol.runtime import new_server, run_until_stopped, set_serving

from cloudburst_cache.settings import CacheSettings
from cloudburst_cache.store import LatticeStore

log = structlog.get_logger("cloudburst.cache")

MAX_WAIT_MS = 600_000


class CacheServicer(cache_pb2_grpc.CacheServicer):
    def __init__(self, store: LatticeStore) -> None:
        self.store = store

    async def Get(
        self, request: cache_pb2.CacheGetRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.CacheGetResponse:
        keys = list(request.keys)
        if request.wait_ms:
            await self.store.wait_for(keys, min(request.wait_ms, MAX_WAIT_MS) / 1000)
        entries = []
        for key in keys:
            value = self.store.get(key)
            if value is not None:
                entries.append(cache_pb2.KeyLattice(key=key, lattice=value))
        return cache_pb2.CacheGetResponse(entries=entries)

    async def Put(
        self, request: cache_pb2.CachePutRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.Empty:
        for entry in request.entries:
            self.store.put(entry.key, entry.lattice)
        return common_pb2.Empty()

    async def Delete(
        self, request: cache_pb2.CacheDeleteRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.Empty:
        for key in request.keys:
            self.store.delete(key)
        return common_pb2.Empty()

    async def ListKeys(
        self, request: cache_pb2.ListKeysRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.ListKeysResponse:
        return cache_pb2.ListKeysResponse(keys=self.store.keys(request.prefix))


class CacheServer:
    """The cache process: start, serve, stop gracefully."""

    def __init__(self, settings: CacheSettings) -> None:
        self.settings = settings
        self.store = LatticeStore()
        self._server, self._health = new_server()
        cache_pb2_grpc.add_CacheServicer_to_server(CacheServicer(self.store), self._server)
        self.port = 0

    async def start(self) -> None:
        self.port = self._server.add_insecure_port(self.settings.address)
        if self.port == 0:
            raise OSError(f"cache cannot listen on {self.settings.address}")
        await self._server.start()
        await set_serving(self._health, True)
        log.info("cache serving", address=f"{self.settings.host}:{self.port}")

    async def stop(self, grace: float = 2.0) -> None:
        await set_serving(self._health, False)
        await self._server.stop(grace)

    async def __aenter__(self) -> CacheServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def serve(settings: CacheSettings) -> None:
    server = CacheServer(settings)
    await server.start()
    await run_until_stopped(asyncio.Event(), server.stop)
