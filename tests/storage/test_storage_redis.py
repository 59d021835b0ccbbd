"""What only the Redis backend has: scripts the server may forget, a change feed that may
break, several authority processes (here: authority servers) sharing one Redis with node
caches behind them, and keys spread over the slots of a real Redis Cluster."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

from cloudburst_cache.backends import Versioned, parse_storage_url
from cloudburst_cache.backends.redis_backend import RedisBackend
from cloudburst_cache.server import CacheServer
from cloudburst_cache.settings import CacheSettings
from cloudburst_lattices import LWW, MaxLattice, SetLattice, decode, encode
from cloudburst_protocol.auth import service_credentials
from cloudburst_protocol.channels import aio_channel
from cloudburst_protocol.gen import cache_pb2, cache_pb2_grpc, common_pb2
from conftest import wait_for_async
from redis_servers import (
    RedisServer,
    command,
    free_port,
    redis_cluster,
    redis_server,
    unique_prefix,
)

__all__ = ["redis_cluster", "redis_server"]

T = TypeVar("T")


def run(coro: Awaitable[T], timeout: float = 30) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def url_of(server: RedisServer, prefix: str) -> str:
    return f"redis://127.0.0.1:{server.port}/0?prefix={prefix}"


def test_scripts_are_reloaded_when_the_server_forgot_them(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        backend = RedisBackend(parse_storage_url(url_of(redis_server, unique_prefix())))
        await backend.start()
        try:
            await backend.put("k", encode(SetLattice(frozenset({b"a"}))))
            assert command(redis_server.port, "SCRIPT", "FLUSH").startswith(b"+OK")
            merged = await backend.put("k", encode(SetLattice(frozenset({b"b"}))))
            assert decode(merged.encoded) == SetLattice(frozenset({b"a", b"b"}))
            await backend.delete("k")
            assert await backend.get_as_of("k", merged.seq) is not None
        finally:
            await backend.close()

    run(scenario())


def test_a_broken_change_feed_tells_subscribers_and_resumes(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        url = url_of(redis_server, unique_prefix())
        reader = RedisBackend(parse_storage_url(url))
        writer = RedisBackend(parse_storage_url(url))
        await reader.start()
        await writer.start()
        try:
            lost = asyncio.Event()
            heard: list[tuple[str, Versioned | None]] = []
            reader.add_listener(lambda k, v: heard.append((k, v)), lost.set)
            killed = command(redis_server.port, "CLIENT", "KILL", "TYPE", "pubsub")
            assert killed.startswith(b":") and killed != b":0\r\n"
            await asyncio.wait_for(lost.wait(), 10)  # subscribers must resync
            waiting = asyncio.create_task(reader.wait_for(["after"], 10))
            await asyncio.sleep(0.05)
            await writer.put("after", encode(MaxLattice(1)))
            started = time.monotonic()
            await waiting  # the resumed feed (or the catch-up check) wakes the reader
            assert time.monotonic() - started < 5
            again: list[str] = []
            for _ in range(100):
                try:
                    reader.add_listener(lambda k, v: again.append(k), lambda: None)
                    break
                except Exception:  # the feed is still reconnecting
                    await asyncio.sleep(0.05)
            await writer.put("later", encode(MaxLattice(2)))
            for _ in range(100):
                if "later" in again:
                    break
                await asyncio.sleep(0.02)
            assert "later" in again
            assert reader.delivered == await writer.watermark()
        finally:
            await reader.close()
            await writer.close()

    run(scenario())


def test_node_caches_learn_of_writes_made_through_another_authority(
    redis_server: RedisServer,
) -> None:
    """Two authority servers on one Redis, a node cache behind the first: a write through
    the second reaches the node cache by push, and snapshot reads go through the first."""

    async def scenario() -> None:
        url = url_of(redis_server, unique_prefix())

        def authority() -> CacheServer:
            settings = CacheSettings(
                role="authority",
                host="127.0.0.1",
                port=free_port(),
                socket_path="",
                authority_address="",
                scheduler_address=f"127.0.0.1:{free_port()}",  # none: reports just wait
                node_id="",
                max_bytes=1 << 20,
                storage_url=url,
            )
            return CacheServer(settings)

        async with authority() as first, authority() as second:
            node_settings = CacheSettings(
                role="node",
                host="127.0.0.1",
                port=free_port(),
                socket_path="",
                authority_address=f"127.0.0.1:{first.port}",
                scheduler_address=f"127.0.0.1:{free_port()}",
                node_id="node9",
                max_bytes=1 << 20,
            )
            async with CacheServer(node_settings) as node:
                channels = [
                    aio_channel(f"127.0.0.1:{s.port}", service_credentials())
                    for s in (second, node)
                ]
                via_second, via_node = (cache_pb2_grpc.CacheStub(c) for c in channels)

                async def put(stub: cache_pb2_grpc.CacheStub, key: str, lattice: bytes) -> None:
                    entry = cache_pb2.KeyLattice(key=key, lattice=lattice)
                    await stub.Put(cache_pb2.CachePutRequest(entries=[entry]), timeout=5)

                async def read(key: str) -> cache_pb2.CacheGetResponse:
                    request = cache_pb2.CacheGetRequest(keys=[key])
                    reply: cache_pb2.CacheGetResponse = await via_node.Get(request, timeout=5)
                    return reply

                await put(via_second, "k", encode(LWW(1, b"one")))
                first_read = await read("k")
                assert first_read.misses == ["k"]  # fetched, now held and watched
                assert decode(first_read.entries[0].lattice) == LWW(1, b"one")
                delays = []
                for n in range(2, 12):
                    await put(via_second, "k", encode(LWW(n, b"v%d" % n)))
                    started = time.monotonic()
                    while True:
                        reply = await read("k")
                        assert not reply.misses  # served from the node's memory
                        if decode(reply.entries[0].lattice) == LWW(n, b"v%d" % n):
                            break
                        assert time.monotonic() - started < 2, "the push never came"
                        await asyncio.sleep(0.001)
                    delays.append(time.monotonic() - started)
                assert sorted(delays)[len(delays) // 2] < 0.05
                # a set merged from writes through both authorities and the node
                await put(via_second, "s", encode(SetLattice(frozenset({b"a"}))))
                await put(via_node, "s", encode(SetLattice(frozenset({b"b"}))))
                reply = await read("s")
                assert decode(reply.entries[0].lattice) == SetLattice(frozenset({b"a", b"b"}))
                # snapshot reads: the node's watermark follows the shared sequence
                mark = await via_node.Watermark(common_pb2.Empty(), timeout=5)
                assert mark.seq > 0
                request = cache_pb2.CacheGetRequest(keys=["k"], as_of=mark.seq)
                snap = await via_node.Get(request, timeout=5)
                assert decode(snap.entries[0].lattice) == LWW(11, b"v11")
                stats = await via_second.Stats(common_pb2.Empty(), timeout=5)
                assert (stats.role, stats.keys) == ("authority", 2)
                for channel in channels:
                    await channel.close()

    run(scenario(), timeout=60)


def test_cluster_keys_spread_over_nodes_and_every_change_is_heard(
    redis_cluster: list[RedisServer],
) -> None:
    async def scenario() -> None:
        url = f"redis+cluster://127.0.0.1:{redis_cluster[1].port}?prefix={unique_prefix()}"
        a = RedisBackend(parse_storage_url(url))
        b = RedisBackend(parse_storage_url(url))
        await a.start()
        await b.start()
        try:
            heard: set[str] = set()
            a.add_listener(lambda k, v: heard.add(k), lambda: None)
            keys = [f"key{n}" for n in range(40)]
            await asyncio.gather(*(b.put(k, encode(MaxLattice(n))) for n, k in enumerate(keys)))
            for _ in range(200):
                if heard >= set(keys):
                    break
                await asyncio.sleep(0.01)
            assert heard >= set(keys)
            assert await a.keys("key") == sorted(keys)
            assert (await a.stats()).keys == len(keys)
            sizes = [int(command(s.port, "DBSIZE")[1:].strip()) for s in redis_cluster]
            assert sum(1 for size in sizes if size) == len(redis_cluster)  # every node has some
            got = await a.get(keys)
            assert [decode(v.encoded) for v in got if v] == [MaxLattice(n) for n in range(40)]
        finally:
            await a.close()
            await b.close()

    run(scenario())


def test_results_expire_in_redis_itself_across_an_authority_restart(
    redis_server: RedisServer,
) -> None:
    """A write with an expiry gets a PEXPIRE in the same script: the value is really gone
    from Redis after its time even though the authority that wrote it was closed (nothing
    in any process remembers it), and it is not counted in the stats."""

    async def scenario() -> None:
        prefix = unique_prefix()
        url = url_of(redis_server, prefix)
        writer = RedisBackend(parse_storage_url(url))
        await writer.start()
        await writer.put("result", encode(LWW(1, b"r")), expire_ms=300)
        await writer.put("kept", encode(LWW(1, b"k")))
        ttl = int(command(redis_server.port, "PTTL", f"{prefix}:v:{{result}}")[1:].strip())
        assert 0 < ttl <= 300
        await writer.close()
        reader = RedisBackend(parse_storage_url(url))
        await reader.start()
        try:
            await wait_for_async(
                lambda: _is(reader.get(["result"]), [None]), "the result expired", timeout=10
            )
            assert command(redis_server.port, "EXISTS", f"{prefix}:v:{{result}}") == b":0\r\n"
            assert await reader.keys() == ["kept"]
            assert (await reader.stats()).keys == 1
            assert await reader.expire_due() == 0
        finally:
            await reader.close()

    run(scenario())


def test_a_cluster_url_with_several_seed_nodes_works(redis_cluster: list[RedisServer]) -> None:
    """The documented form redis+cluster://h:p,h:p,h:p: every host is a seed node; the
    backend starts even when the first seed is not a cluster node at all."""

    async def scenario() -> None:
        seeds = ",".join(f"127.0.0.1:{s.port}" for s in redis_cluster)
        dead = free_port()
        for listed in (seeds, f"127.0.0.1:{dead},{seeds}"):
            url = f"redis+cluster://{listed}?prefix={unique_prefix()}"
            backend = RedisBackend(parse_storage_url(url))
            await backend.start()
            try:
                await backend.put("k", encode(MaxLattice(3)))
                got = await backend.get(["k"])
                assert got[0] is not None and decode(got[0].encoded) == MaxLattice(3)
                assert backend.name.startswith("redis+cluster://") or "," in backend.name
            finally:
                await backend.close()

    run(scenario())


def test_results_expire_on_a_redis_cluster(redis_cluster: list[RedisServer]) -> None:
    """On a cluster the value's own key gets the PEXPIRE, on whichever node holds its slot."""

    async def scenario() -> None:
        seeds = ",".join(f"127.0.0.1:{s.port}" for s in redis_cluster)
        backend = RedisBackend(
            parse_storage_url(f"redis+cluster://{seeds}?prefix={unique_prefix()}")
        )
        await backend.start()
        try:
            keys = [f"result{n}" for n in range(12)]
            for key in keys:
                await backend.put(key, encode(LWW(1, b"r")), expire_ms=200)
            await backend.put("kept", encode(LWW(1, b"k")))
            await wait_for_async(
                lambda: _is(backend.keys("result"), []),
                "the results expired on the cluster",
                timeout=10,
            )
            assert await backend.keys() == ["kept"]
        finally:
            await backend.close()

    run(scenario())


def test_a_rewritten_expiring_key_keeps_its_snapshot_history(redis_server: RedisServer) -> None:
    """An expiring key written twice still serves the snapshot before the second write, as
    the embedded store does."""

    async def scenario() -> None:
        backend = RedisBackend(parse_storage_url(url_of(redis_server, unique_prefix())))
        await backend.start()
        try:
            first = await backend.put("r", encode(LWW(1, b"one")), expire_ms=60_000)
            await backend.put("r", encode(LWW(2, b"two")), expire_ms=60_000)
            seen = await backend.get_as_of("r", first.seq)
            assert seen is not None and seen.encoded == encode(LWW(1, b"one"))
        finally:
            await backend.close()

    run(scenario())


async def _is(value: Awaitable[object], expected: object) -> bool:
    return await value == expected
