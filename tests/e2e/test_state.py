"""State next to the code: node caches, freshness across nodes, locality-driven placement,
and values that merge. Runs on its own two-node cluster (one executor per node, caches of
2 MB so eviction is exercised)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cloudburst import (
    CloudburstConnection,
    CloudburstReference,
    Counter,
    InvalidArgumentError,
    Max,
    Priority,
)
from cloudburst_lattices import LWW, decode, encode
from cloudburst_management import LocalCluster
from cloudburst_protocol import serializer
from cloudburst_protocol.auth import service_credentials
from cloudburst_protocol.channels import sync_channel
from cloudburst_protocol.gen import cache_pb2, cache_pb2_grpc, common_pb2
from conftest import start_cluster

pytestmark = pytest.mark.e2e

CACHE_BYTES = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = start_cluster(
        tmp_path_factory.mktemp("nodes"),
        executors=1,
        nodes=2,
        CLOUDBURST_CACHE_MAX_BYTES=str(CACHE_BYTES),
    )
    yield cluster
    cluster.down()


@pytest.fixture
def cloud(nodes: LocalCluster) -> Iterator[CloudburstConnection]:
    with CloudburstConnection(nodes.scheduler_address) as connection:
        yield connection


def node_cache(cluster: LocalCluster, node: str) -> cache_pb2_grpc.CacheStub:
    # The cache serves the cluster's own services only: present the cluster secret.
    socket = f"unix:{cluster.home / 'run' / f'{node}-cache.sock'}"
    channel = sync_channel(socket, service_credentials())
    return cache_pb2_grpc.CacheStub(channel)


def stats(cluster: LocalCluster, node: str) -> cache_pb2.CacheStats:
    return node_cache(cluster, node).Stats(common_pb2.Empty(), timeout=5)


def node_of(executor_messaging_id: str) -> str:
    return executor_messaging_id.split("-", 1)[0]


def test_ids_name_node_and_executor(cloud: CloudburstConnection, name: str) -> None:
    """get_id() names the node and the executor: both nodes' executors answer (calls in
    flight together are spread over the executors)."""

    def whoami_slowly(lib: Any) -> str:
        time.sleep(0.05)
        return str(lib.get_id())

    whoami = cloud.register(whoami_slowly, name)
    ids = {future.get() for future in [whoami() for _ in range(8)]}
    assert {node_of(i) for i in ids} == {"node0", "node1"}
    assert all("-exec0@127.0.0.1:" in i for i in ids)


def test_repeated_reads_hit_the_node_cache(
    nodes: LocalCluster, cloud: CloudburstConnection, name: str
) -> None:
    """The first read of a key on a node misses and fetches it; later reads are hits."""
    cloud.put_object(f"{name}-k", {"v": 1})
    reader = cloud.register(lambda lib, k: [lib.get_id(), lib.get_object(k)], name)
    node, value = reader(f"{name}-k").get()
    assert value == {"v": 1}
    before = stats(nodes, node_of(node))
    for _ in range(6):
        where, value = reader(f"{name}-k").get()
        assert value == {"v": 1}
        if where == node:
            break
    after = stats(nodes, node_of(node))
    assert after.hits > before.hits
    assert after.misses == before.misses


def test_write_on_one_node_reaches_the_other_within_the_target(
    nodes: LocalCluster, name: str
) -> None:
    """A key held by node1's cache sees a write made through node0's cache in well under
    50 ms (pushed by the storage authority, not polled)."""
    writer, reader = node_cache(nodes, "node0"), node_cache(nodes, "node1")
    key = f"{name}-fresh"

    def put(value: int) -> None:
        lattice = encode(LWW(time.time_ns(), serializer.dumps(value)))
        writer.Put(
            cache_pb2.CachePutRequest(entries=[cache_pb2.KeyLattice(key=key, lattice=lattice)])
        )

    def read() -> int:
        reply = reader.Get(cache_pb2.CacheGetRequest(keys=[key]), timeout=5)
        return int(serializer.loads(decode(reply.entries[0].lattice).value))  # type: ignore[union-attr]

    put(0)
    assert read() == 0  # node1 now holds and watches the key
    delays = []
    for value in range(1, 21):
        put(value)
        started = time.monotonic()
        while read() != value:
            assert time.monotonic() - started < 2, "the write never reached node1's cache"
        delays.append(time.monotonic() - started)
    assert statistics.median(delays) < 0.05
    served = stats(nodes, "node1")  # each of the 20 new values was served from memory
    assert served.hits >= 20 and served.misses <= 2, served


def test_calls_go_where_their_data_is(
    nodes: LocalCluster, cloud: CloudburstConnection, name: str
) -> None:
    """A call referencing a big value runs on the node whose cache holds it."""
    cloud.put_object(f"{name}-big", b"x" * 600_000)
    size = cloud.register(lambda lib, blob: [lib.get_id(), len(blob)], name)
    first, length = size(CloudburstReference(f"{name}-big")).get()
    assert length == 600_000
    time.sleep(0.3)  # the node cache reports what it holds every 50 ms
    where = [size(CloudburstReference(f"{name}-big")).get()[0] for _ in range(8)]
    assert {node_of(w) for w in where} == {node_of(first)}


def test_functions_are_placed_by_what_they_read_before(
    nodes: LocalCluster, cloud: CloudburstConnection, name: str
) -> None:
    """A function that reads a big key through the user library is later placed on the node
    that caches it, also on the direct path (a fresh lease ranks that node first)."""
    cloud.put_object(f"{name}-big", b"y" * 600_000)
    reader = cloud.register(lambda lib, k: [lib.get_id(), len(lib.get_object(k))], name)
    first, _ = reader(f"{name}-big").get()
    time.sleep(0.4)  # usage and cache reports reach the scheduler
    with CloudburstConnection(nodes.scheduler_address) as fresh:
        where = [fresh.exec_func(name, [f"{name}-big"]).get()[0] for _ in range(8)]
    assert {node_of(w) for w in where} == {node_of(first)}


def test_bounded_cache_evicts_and_stays_correct(
    nodes: LocalCluster, cloud: CloudburstConnection, name: str
) -> None:
    """Values beyond a node cache's byte limit evict colder ones; reads stay correct."""
    for i in range(4):
        cloud.put_object(f"{name}-{i}", bytes([i]) * 700_000)
    first = cloud.register(lambda lib, k: [lib.get_id(), lib.get_object(k)[:1]], name)
    node = first(f"{name}-0").get()[0]
    for _ in range(3):
        for i in range(4):
            _, head = first(f"{name}-{i}").get()
            assert head == bytes([i])
    assert stats(nodes, node_of(node)).evictions > 0
    assert stats(nodes, node_of(node)).bytes <= CACHE_BYTES


def test_values_that_merge(cloud: CloudburstConnection, name: str) -> None:
    """Sets merge by union, Max keeps the largest, Counter adds up across writers,
    Priority keeps the lowest priority; a key keeps its kind."""
    tags = f"{name}-tags"
    cloud.put_object(tags, {"a", "b"})
    cloud.put_object(tags, {"c"})
    adder = cloud.register(lambda lib, k, v: lib.put_object(k, {v}), f"{name}-add")
    for v in ("d", "e", "f"):
        adder(tags, v).get()
    assert cloud.get_object(tags) == {"a", "b", "c", "d", "e", "f"}

    cloud.put_object(f"{name}-max", Max(5))
    cloud.put_object(f"{name}-max", Max(3))
    assert cloud.get_object(f"{name}-max") == 5

    counter = f"{name}-count"
    cloud.put_object(counter, Counter(2))
    bump = cloud.register(lambda lib, k: lib.put_object(k, Counter(1)), f"{name}-bump")
    for _ in range(5):
        bump(counter).get()
    assert cloud.get_object(counter) == 7

    cloud.put_object(f"{name}-best", Priority(5, "five"))
    cloud.put_object(f"{name}-best", Priority(1, "one"))
    cloud.put_object(f"{name}-best", Priority(3, "three"))
    assert cloud.get_object(f"{name}-best") == "one"

    with pytest.raises(InvalidArgumentError, match="holds a set"):
        cloud.put_object(tags, "plain")
    reader: Any = cloud.register(lambda lib, k: lib.get_object(k), f"{name}-read")
    assert reader(tags).get() == {"a", "b", "c", "d", "e", "f"}
    assert reader(counter).get() == 7
