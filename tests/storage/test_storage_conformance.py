"""The storage backends' contract, run against each one: the embedded store, one real Redis
server, and a real 3-node Redis Cluster (where snapshot reads are refused instead).

Two "authority instances" are two backend objects on the same storage (for the embedded
store: the same LatticeStore; for Redis: two clients of the same server or cluster), as two
authority processes would be."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from cloudburst_cache.backends import (
    SnapshotUnsupportedError,
    StorageBackend,
    UnsupportedLatticeError,
    Versioned,
    parse_storage_url,
)
from cloudburst_cache.backends.memory import MemoryBackend
from cloudburst_cache.backends.redis_backend import RedisBackend
from cloudburst_cache.store import LatticeStore
from cloudburst_lattices import (
    LWW,
    Lattice,
    MapLattice,
    MaxLattice,
    MultiKeyCausal,
    OrderedSetLattice,
    PriorityLattice,
    SetLattice,
    SingleKeyCausal,
    VectorClock,
    decode,
    encode,
    merge,
)
from cloudburst_protocol.errors import InvalidArgumentError, SnapshotExpiredError
from redis_servers import redis_cluster, redis_server, unique_prefix

__all__ = ["redis_cluster", "redis_server"]  # fixtures used by name

T = TypeVar("T")
I64 = 2**63 - 1


@dataclass
class Storage:
    kind: str
    url: str = ""
    stores: dict[tuple[Any, ...], LatticeStore] = field(default_factory=dict)

    @property
    def snapshots(self) -> bool:
        return self.kind != "cluster"

    def make(self, history_versions: int | None = None, history_s: float | None = None) -> Any:
        """A new backend instance on this storage (another authority process's view)."""
        if self.kind == "memory":
            store = self.stores.setdefault(
                (history_versions, history_s), LatticeStore(history_versions, history_s)
            )
            return MemoryBackend(store)
        bounds: dict[str, Any] = {}
        if history_versions is not None:
            bounds["history_versions"] = history_versions
        if history_s is not None:
            bounds["history_s"] = history_s
        return RedisBackend(parse_storage_url(self.url), **bounds)


@pytest.fixture(params=["memory", "redis", "cluster"])
def storage(request: pytest.FixtureRequest) -> Storage:
    if request.param == "memory":
        return Storage("memory")
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        return Storage("redis", f"redis://127.0.0.1:{server.port}/0?prefix={unique_prefix()}")
    nodes = request.getfixturevalue("redis_cluster")
    return Storage("cluster", f"redis+cluster://127.0.0.1:{nodes[0].port}?prefix={unique_prefix()}")


@pytest.fixture(params=["memory", "redis"])
def snapshot_storage(request: pytest.FixtureRequest) -> Storage:
    """The backends that serve snapshot reads (a Redis Cluster refuses them: tested above)."""
    if request.param == "memory":
        return Storage("memory")
    server = request.getfixturevalue("redis_server")
    return Storage("redis", f"redis://127.0.0.1:{server.port}/0?prefix={unique_prefix()}")


def run(coro: Awaitable[T], timeout: float = 30) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@contextlib.asynccontextmanager
async def opened(storage: Storage, **bounds: Any) -> AsyncIterator[Any]:
    backend = storage.make(**bounds)
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()


async def value(backend: StorageBackend, key: str) -> Lattice | None:
    [version] = await backend.get([key])
    return None if version is None else decode(version.encoded)


# -- merge laws -------------------------------------------------------------------------------

WRITES: dict[str, list[Lattice]] = {
    "lww": [LWW(5, b"x"), LWW(3, b"y"), LWW(5, b"z"), LWW(-7, b"q"), LWW(I64, b""), LWW(5, b"")],
    "set": [
        SetLattice(frozenset({b"b", b"a"})),
        SetLattice(frozenset({b"", b"a", b"\xff"})),
        SetLattice(frozenset()),
        SetLattice(frozenset({b"a\x00b", b"a"})),
    ],
    "ordered_set": [OrderedSetLattice((b"z", b"a")), OrderedSetLattice((b"m", b"z"))],
    "max": [MaxLattice(n) for n in (-5, -300, 2**62, -(2**63), 0)],
    "priority": [
        PriorityLattice(3, b"a"),
        PriorityLattice(-1, b"b"),
        PriorityLattice(-1, b"c"),
        PriorityLattice(-(2**40), b""),
        PriorityLattice(128, b"zz"),
    ],
    "counter": [
        MapLattice({"w1": MaxLattice(1)}),
        MapLattice({"w2": MaxLattice(3)}),
        MapLattice({"w1": MaxLattice(7)}),
        MapLattice({"w1": MaxLattice(2), "w3": MaxLattice(1)}),
    ],
    "vector_clock": [
        VectorClock({"n1": 3}),
        VectorClock({"n0": 1, "n1": 2}),
        VectorClock({"n2": 2**64 - 1}),
    ],
    "nested_map": [
        MapLattice({"x": MapLattice({"y": SetLattice(frozenset({b"1"}))}), "l": LWW(1, b"a")}),
        MapLattice({"x": MapLattice({"y": SetLattice(frozenset({b"2"}))}), "l": LWW(1, b"b")}),
        MapLattice({"é": PriorityLattice(1, b"p"), "x": MapLattice({"z": MaxLattice(4)})}),
    ],
}


@pytest.mark.parametrize("kind", sorted(WRITES))
def test_merge_is_order_free_and_matches_the_lattice_merge(storage: Storage, kind: str) -> None:
    """Whatever the order of the writes, the stored value is the merge of all of them."""
    writes = WRITES[kind]
    expected = writes[0]
    for lattice in writes[1:]:
        expected = merge(expected, lattice)
    orders = list(itertools.permutations(writes))
    random.Random(kind).shuffle(orders)

    async def scenario() -> None:
        async with opened(storage) as backend:
            for n, order in enumerate(orders[:6]):
                key = f"{kind}-{n}"
                for lattice in order:
                    version = await backend.put(key, encode(lattice))
                assert decode(version.encoded) == expected
                assert await value(backend, key) == expected
                [stored] = await backend.get([key])
                assert stored is not None and stored.encoded == encode(expected)

    run(scenario())


def test_a_write_that_changes_nothing_keeps_the_version(storage: Storage) -> None:
    async def scenario() -> None:
        async with opened(storage) as backend:
            first = await backend.put("k", encode(SetLattice(frozenset({b"a", b"b"}))))
            again = await backend.put("k", encode(SetLattice(frozenset({b"a"}))))
            assert (again.seq, again.encoded) == (first.seq, first.encoded)
            older = await backend.put("l", encode(LWW(10, b"new")))
            stale = await backend.put("l", encode(LWW(9, b"old")))
            assert (stale.seq, decode(stale.encoded)) == (older.seq, LWW(10, b"new"))
            grown = await backend.put("k", encode(SetLattice(frozenset({b"c"}))))
            assert grown.seq > first.seq

    run(scenario())


# -- concurrent writers -------------------------------------------------------------------------


def test_concurrent_writers_in_two_authorities_lose_no_update(storage: Storage) -> None:
    """Many tasks in two authority instances add to one set, bump one counter and race one
    maximum: every add and every increment is there at the end."""
    tasks_per_instance, rounds = 20, 5

    async def writer(backend: StorageBackend, name: str) -> None:
        total = 0
        for n in range(rounds):
            total += n + 1
            await backend.put("set", encode(SetLattice(frozenset({f"{name}-{n}".encode()}))))
            await backend.put("counter", encode(MapLattice({name: MaxLattice(total)})))
            await backend.put("max", encode(MaxLattice(hash(name) % 1000 + n)))

    async def scenario() -> None:
        async with opened(storage) as a, opened(storage) as b:
            names = [f"{side}{i}" for side in "ab" for i in range(tasks_per_instance)]
            await asyncio.gather(*(writer(a if n[0] == "a" else b, n) for n in names))
            for backend in (a, b):
                stored = await value(backend, "set")
                assert isinstance(stored, SetLattice)
                added = {f"{n}-{i}".encode() for n in names for i in range(rounds)}
                assert stored.elements == added
                counter = await value(backend, "counter")
                assert isinstance(counter, MapLattice)
                per_writer = sum(range(1, rounds + 1))
                assert sum(v.value for v in counter.entries.values()) == per_writer * len(names)  # type: ignore[union-attr]
                assert await value(backend, "max") == MaxLattice(
                    max(hash(n) % 1000 + rounds - 1 for n in names)
                )

    run(scenario(), timeout=60)


# -- errors ---------------------------------------------------------------------------------


def test_type_mismatch_raises_the_same_error(storage: Storage) -> None:
    async def scenario() -> None:
        async with opened(storage) as backend:
            await backend.put("k", encode(LWW(1, b"v")))
            with pytest.raises(InvalidArgumentError) as top:
                await backend.put("k", encode(SetLattice(frozenset({b"x"}))))
            assert str(top.value) == (
                "key 'k' holds a plain value (last writer wins); a set (merged by union) cannot "
                "be merged into it (delete the key first to change its kind)"
            )
            await backend.put("m", encode(MapLattice({"a": MapLattice({"b": LWW(1, b"v")})})))
            with pytest.raises(InvalidArgumentError) as nested:
                await backend.put("m", encode(MapLattice({"a": MapLattice({"b": MaxLattice(1)})})))
            assert str(nested.value) == (
                "the value for key 'm' cannot be merged into what it holds: MapLattice key 'b' "
                "holds different lattice types: LWW and MaxLattice"
            )
            with pytest.raises(InvalidArgumentError, match="not a lattice"):
                await backend.put("k", b"\x01\xff")
            with pytest.raises(InvalidArgumentError, match="empty"):
                await backend.put("", encode(LWW(1, b"v")))
            assert await value(backend, "k") == LWW(1, b"v")  # nothing was written

    run(scenario())


def test_causal_lattices_are_refused_by_redis_with_a_typed_error(storage: Storage) -> None:
    single = SingleKeyCausal.from_versions([(VectorClock({"a": 1}), [b"x"])])
    multi = MultiKeyCausal.from_versions([(VectorClock({"a": 1}), {}, [b"x"])])

    async def scenario() -> None:
        async with opened(storage) as backend:
            for lattice in (single, multi, MapLattice({"in": single})):
                if storage.kind == "memory":
                    await backend.put(f"c{type(lattice).__name__}", encode(lattice))
                    continue
                with pytest.raises(UnsupportedLatticeError) as info:
                    await backend.put("c", encode(lattice))
                assert ("SingleKeyCausal" if lattice is not multi else "MultiKeyCausal") in str(
                    info.value
                )
                assert isinstance(info.value, InvalidArgumentError)

    run(scenario())


# -- delete, keys, stats ----------------------------------------------------------------------


def test_delete_and_recreate_with_another_kind(storage: Storage) -> None:
    async def scenario() -> None:
        async with opened(storage) as backend:
            await backend.put("k", encode(LWW(1, b"v")))
            assert await backend.delete("k") is True
            assert await backend.delete("k") is False
            assert await backend.get(["k"]) == [None]
            assert await backend.keys() == []
            await backend.put("k", encode(MaxLattice(3)))
            assert await value(backend, "k") == MaxLattice(3)

    run(scenario())


def test_keys_by_prefix_with_awkward_names(storage: Storage) -> None:
    names = ["a", "ab", "a{b}", "a}", "{", "%7B", "a*", "a?", "a[1]", "a\\", "é-ü", "b", "a b"]

    async def scenario() -> None:
        async with opened(storage) as backend:
            for name in names:
                await backend.put(name, encode(LWW(1, name.encode())))
            assert await backend.keys() == sorted(names)
            for prefix in ("a", "a{", "%", "a*", "a[", "é", "{", "zz"):
                expected = sorted(n for n in names if n.startswith(prefix))
                assert await backend.keys(prefix) == expected
            for name in names:
                assert await value(backend, name) == LWW(1, name.encode())

    run(scenario())


def test_stats_count_keys_and_bytes(storage: Storage) -> None:
    async def scenario() -> None:
        async with opened(storage) as backend:
            a = await backend.put("a", encode(SetLattice(frozenset({b"1"}))))
            a = await backend.put("a", encode(SetLattice(frozenset({b"22"}))))
            b = await backend.put("b", encode(LWW(1, b"xyz")))
            await backend.put("c", encode(LWW(1, b"gone")))
            await backend.delete("c")
            stats = await backend.stats()
            assert (stats.keys, stats.bytes) == (2, len(a.encoded) + len(b.encoded))

    run(scenario())


# -- waiting and change notifications ---------------------------------------------------------


def test_wait_for_is_woken_by_a_write_through_another_authority(storage: Storage) -> None:
    async def scenario() -> None:
        async with opened(storage) as a, opened(storage) as b:
            started = time.monotonic()
            await a.wait_for(["nothing"], 0.2)
            assert 0.18 < time.monotonic() - started < 1.0

            async def write_later() -> None:
                await asyncio.sleep(0.1)
                await b.put("late", encode(LWW(1, b"here")))

            writer = asyncio.create_task(write_later())
            started = time.monotonic()
            await a.wait_for(["late"], 10)
            assert time.monotonic() - started < 2.0
            assert await value(a, "late") == LWW(1, b"here")
            await writer
            started = time.monotonic()
            await a.wait_for(["late"], 10)  # already there: at once
            assert time.monotonic() - started < 0.5

    run(scenario())


def test_changes_reach_listeners_of_another_authority(storage: Storage) -> None:
    async def scenario() -> None:
        async with opened(storage) as a, opened(storage) as b:
            heard: list[tuple[str, Versioned | None, int]] = []
            arrived = asyncio.Event()

            def on_change(key: str, version: Versioned | None) -> None:
                heard.append((key, version, a.delivered))
                if version is None:
                    arrived.set()

            a.add_listener(on_change, lambda: None)
            first = await b.put("k", encode(SetLattice(frozenset({b"1"}))))
            second = await b.put("k", encode(SetLattice(frozenset({b"2"}))))
            await b.put("k", encode(SetLattice(frozenset({b"1"}))))  # no change: no news
            await b.delete("k")
            await asyncio.wait_for(arrived.wait(), 5)
            a.remove_listener(on_change)
            assert [(k, v.seq if v else None) for k, v, _ in heard] == [
                ("k", first.seq),
                ("k", second.seq),
                ("k", None),
            ]
            assert heard[1][1] is not None and heard[1][1].encoded == second.encoded
            if storage.snapshots:
                # The listener is told after the delivered watermark covers the change.
                assert [d for _, _, d in heard[:2]] == [first.seq, second.seq]
                assert heard[2][2] > second.seq
                assert heard[2][2] == await b.watermark()

    run(scenario())


# -- sequence numbers and snapshots -----------------------------------------------------------


def test_sequence_numbers_grow_per_key_and_the_watermark_covers_writes(storage: Storage) -> None:
    async def scenario() -> None:
        async with opened(storage) as backend:
            seqs = [(await backend.put("k", encode(MaxLattice(n)))).seq for n in range(5)]
            assert seqs == sorted(set(seqs))
            other = await backend.put("other", encode(LWW(1, b"")))
            if storage.snapshots:
                assert other.seq == seqs[-1] + 1  # one total order of changes
                assert await backend.watermark() == other.seq
            else:
                with pytest.raises(SnapshotUnsupportedError, match="Redis Cluster"):
                    await backend.watermark()

    run(scenario())


def test_snapshot_reads_see_the_version_at_their_point(storage: Storage) -> None:
    async def scenario() -> None:
        async with opened(storage) as backend:
            before = await backend.put("x", encode(LWW(0, b"unrelated")))
            versions = [await backend.put("k", encode(LWW(n, b"v%d" % n))) for n in range(1, 4)]
            gone = await backend.delete("k")
            again = await backend.put("k", encode(MaxLattice(9)))
            if not storage.snapshots:
                with pytest.raises(SnapshotUnsupportedError, match="Redis Cluster"):
                    await backend.get_as_of("k", again.seq)
                return
            assert gone
            assert await backend.get_as_of("k", before.seq) is None  # not yet written
            for version in versions:
                seen = await backend.get_as_of("k", version.seq)
                assert seen is not None and (seen.seq, seen.encoded) == (
                    version.seq,
                    version.encoded,
                )
            assert await backend.get_as_of("k", versions[-1].seq + 1) is None  # deleted
            latest = await backend.get_as_of("k", again.seq + 100)
            assert latest is not None and decode(latest.encoded) == MaxLattice(9)

    run(scenario())


def test_snapshot_history_is_bounded_in_count_and_age(snapshot_storage: Storage) -> None:
    """Each key keeps a bounded history (count and age); older snapshots fail clearly."""
    storage = snapshot_storage

    async def scenario() -> None:
        async with opened(storage, history_versions=3, history_s=0.3) as backend:
            seqs = [(await backend.put("k", encode(MaxLattice(n)))).seq for n in range(6)]
            # The current value and the 3 states it replaced are kept; older ones are not.
            for n in (2, 3, 4, 5):
                seen = await backend.get_as_of("k", seqs[n])
                assert seen is not None and decode(seen.encoded) == MaxLattice(n)
            with pytest.raises(SnapshotExpiredError, match="no longer kept"):
                await backend.get_as_of("k", seqs[1])
            first = (await backend.put("t", encode(MaxLattice(0)))).seq
            await asyncio.sleep(0.45)
            await backend.put("t", encode(MaxLattice(1)))
            seen = await backend.get_as_of("t", first)
            assert seen is not None and decode(seen.encoded) == MaxLattice(0)  # just replaced
            await asyncio.sleep(0.45)
            await backend.put("t", encode(MaxLattice(2)))  # trims states older than 0.3 s
            with pytest.raises(SnapshotExpiredError):
                await backend.get_as_of("t", first)

    run(scenario())
