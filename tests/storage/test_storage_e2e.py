"""A whole local cluster (two nodes) whose storage authority keeps its data in a real Redis
(CLOUDBURST_STORAGE_URL=redis://...): the seed example, values merged from several
functions, and a write made through one node reaching the other node's cache."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cloudburst import CloudburstConnection, Counter, InvalidArgumentError
from cloudburst_lattices import LWW, SetLattice, decode, encode
from cloudburst_management import LocalCluster
from cloudburst_protocol import serializer
from cloudburst_protocol.auth import service_credentials
from cloudburst_protocol.channels import sync_channel
from cloudburst_protocol.gen import cache_pb2, cache_pb2_grpc, common_pb2
from conftest import start_cluster
from redis_servers import RedisServer, command, redis_server, unique_prefix

__all__ = ["redis_server"]

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def on_redis(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[tuple[LocalCluster, str]]:
    prefix = unique_prefix()
    cluster = start_cluster(
        tmp_path_factory.mktemp("on-redis"),
        executors=1,
        nodes=2,
        CLOUDBURST_STORAGE_URL=f"redis://127.0.0.1:{redis_server.port}/0?prefix={prefix}",
    )
    yield cluster, prefix
    cluster.down()


@pytest.fixture
def cloud(on_redis: tuple[LocalCluster, str]) -> Iterator[CloudburstConnection]:
    with CloudburstConnection(on_redis[0].scheduler_address, "127.0.0.1") as connection:
        yield connection


def node_cache(cluster: LocalCluster, node: str) -> cache_pb2_grpc.CacheStub:
    # The cache serves the cluster's own services only: present the cluster secret.
    socket = f"unix:{cluster.home / 'run' / f'{node}-cache.sock'}"
    channel = sync_channel(socket, service_credentials())
    return cache_pb2_grpc.CacheStub(channel)


def in_redis(server: RedisServer, prefix: str, key: str) -> Any:
    """The lattice Redis itself holds for ``key`` (read with a plain RESP client)."""
    reply = command(server.port, "HGET", f"{prefix}:v:{{{key}}}", "v")
    assert reply.startswith(b"$"), reply
    length_line, rest = reply.split(b"\r\n", 1)
    return decode(rest[: int(length_line[1:])])


def test_seed_example_runs_on_redis(
    cloud: CloudburstConnection, on_redis: tuple[LocalCluster, str], redis_server: RedisServer
) -> None:
    name = f"sq{uuid.uuid4().hex[:6]}"
    square = cloud.register(lambda _, x: x * x, name)
    assert square(2).get() == 4
    assert cloud.register_dag(f"{name}-dag", [name], []) == (True, 0)
    assert cloud.call_dag(f"{name}-dag", {name: [2]}).get() == 4
    cloud.put_object(f"{name}-greeting", "hello")
    assert cloud.get_object(f"{name}-greeting") == "hello"
    stored = in_redis(redis_server, on_redis[1], f"{name}-greeting")
    assert isinstance(stored, LWW) and serializer.loads(stored.value) == "hello"


def test_values_merged_from_several_functions(
    cloud: CloudburstConnection, on_redis: tuple[LocalCluster, str], redis_server: RedisServer
) -> None:
    name = f"m{uuid.uuid4().hex[:6]}"
    tags = f"{name}-tags"
    cloud.put_object(tags, {"a"})
    adder = cloud.register(lambda lib, k, v: lib.put_object(k, {v}), f"{name}-add")
    futures = [adder(tags, v) for v in "bcdefgh"]
    for future in futures:
        future.get()
    expected = set("abcdefgh")
    assert cloud.get_object(tags) == expected
    reader: Any = cloud.register(lambda lib, k: lib.get_object(k), f"{name}-read")
    assert reader(tags).get() == expected
    stored = in_redis(redis_server, on_redis[1], tags)
    assert isinstance(stored, SetLattice)
    assert {serializer.loads(e) for e in stored.elements} == expected

    counter = f"{name}-count"
    bump = cloud.register(lambda lib, k: lib.put_object(k, Counter(1)), f"{name}-bump")
    for future in [bump(counter) for _ in range(6)]:
        future.get()
    assert cloud.get_object(counter) == 6
    with pytest.raises(InvalidArgumentError, match="holds a set"):
        cloud.put_object(tags, "plain")


def test_a_write_through_one_node_reaches_the_other_nodes_cache(
    on_redis: tuple[LocalCluster, str],
) -> None:
    cluster = on_redis[0]
    writer, reader = node_cache(cluster, "node0"), node_cache(cluster, "node1")
    key = f"fresh{uuid.uuid4().hex[:6]}"

    def put(value: int) -> None:
        lattice = encode(LWW(time.time_ns(), serializer.dumps(value)))
        entry = cache_pb2.KeyLattice(key=key, lattice=lattice)
        writer.Put(cache_pb2.CachePutRequest(entries=[entry]), timeout=5)

    def read() -> int:
        reply = reader.Get(cache_pb2.CacheGetRequest(keys=[key]), timeout=5)
        return int(serializer.loads(decode(reply.entries[0].lattice).value))  # type: ignore[union-attr]

    put(0)
    assert read() == 0  # node1 now holds and watches the key
    hits = reader.Stats(common_pb2.Empty(), timeout=5).hits
    delays = []
    for value in range(1, 11):
        put(value)
        started = time.monotonic()
        while read() != value:
            assert time.monotonic() - started < 2, "the write never reached node1's cache"
        delays.append(time.monotonic() - started)
    assert statistics.median(delays) < 0.05
    assert reader.Stats(common_pb2.Empty(), timeout=5).hits >= hits + 10  # pushed, not fetched
