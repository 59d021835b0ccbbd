"""Golden check: for generated sequences of writes (and deletes), the Redis backend holds byte
for byte what the embedded store holds: every write's answer, every sequence number, and the
final value, which decodes and re-encodes to itself."""

from __future__ import annotations

import asyncio
import string

from cloudburst_cache.backends import parse_storage_url
from cloudburst_cache.backends.memory import MemoryBackend
from cloudburst_cache.backends.redis_backend import RedisBackend
from cloudburst_lattices import (
    LWW,
    Lattice,
    MapLattice,
    MaxLattice,
    OrderedSetLattice,
    PriorityLattice,
    SetLattice,
    VectorClock,
    decode,
    encode,
)
from cloudburst_protocol.errors import InvalidArgumentError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis_servers import RedisServer, redis_server, unique_prefix

__all__ = ["redis_server"]

I64 = st.integers(-(2**63), 2**63 - 1)
# Small alphabets so that writes collide: equal timestamps, shared elements, same map keys.
SMALL = st.sampled_from([-(2**63), -129, -1, 0, 1, 127, 128, 2**40, 2**63 - 1]) | I64
BLOBS = st.binary(max_size=3) | st.sampled_from([b"", b"a", b"\x00", b"\xff", b"ab" * 40])
NAMES = st.text(alphabet=string.ascii_lowercase[:3] + "é{}%", min_size=0, max_size=2)


def scalar(tag: int) -> st.SearchStrategy[Lattice]:
    return {
        0: st.builds(LWW, SMALL, BLOBS),
        1: st.builds(SetLattice, st.frozensets(BLOBS, max_size=4)),
        2: st.builds(OrderedSetLattice, st.lists(BLOBS, max_size=4).map(tuple)),
        3: st.builds(MaxLattice, SMALL),
        4: st.builds(PriorityLattice, SMALL, BLOBS),
        5: st.builds(VectorClock, st.dictionaries(NAMES, st.integers(1, 2**64 - 1), max_size=3)),
    }[tag]


def of_kind(kind: int) -> st.SearchStrategy[Lattice]:
    """Lattices of one shape (so most writes to a key merge rather than clash)."""
    if kind < 6:
        return scalar(kind)
    if kind == 6:  # a counter: writer -> max
        return st.builds(MapLattice, st.dictionaries(NAMES, st.builds(MaxLattice, SMALL)))
    # nested maps whose leaves are sets or LWW by key name (a clash now and then)
    leaf = st.one_of(scalar(1), scalar(0))
    inner = st.builds(MapLattice, st.dictionaries(NAMES, leaf, max_size=3))
    return st.builds(MapLattice, st.dictionaries(NAMES, st.one_of(inner, leaf), max_size=3))


Op = tuple[str, str, Lattice | None]  # (op, key, value)


@st.composite
def histories(draw: st.DrawFn) -> list[Op]:
    ops: list[Op] = []
    kinds = {key: draw(st.integers(0, 7)) for key in ("k0", "k1", "k2")}
    for _ in range(draw(st.integers(1, 14))):
        key = draw(st.sampled_from(sorted(kinds)))
        if draw(st.integers(0, 9)) == 0:
            ops.append(("delete", key, None))
            kinds[key] = draw(st.integers(0, 7))
        elif draw(st.integers(0, 14)) == 0:  # another kind: a type mismatch
            ops.append(("put", key, draw(of_kind((kinds[key] + 1) % 8))))
        else:
            ops.append(("put", key, draw(of_kind(kinds[key]))))
    return ops


async def outcome(
    backend: MemoryBackend | RedisBackend, op: str, key: str, lattice: Lattice | None
) -> object:
    try:
        if op == "delete":
            return await backend.delete(key)
        assert lattice is not None
        version = await backend.put(key, encode(lattice))
        return (version.seq, version.encoded)
    except InvalidArgumentError as exc:
        return ("error", str(exc))


def test_redis_holds_exactly_what_the_embedded_store_holds(redis_server: RedisServer) -> None:
    loop = asyncio.new_event_loop()
    try:

        @settings(
            max_examples=250,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(histories())
        def check(ops: list[Op]) -> None:
            loop.run_until_complete(compare(ops))

        async def compare(ops: list[Op]) -> None:
            url = f"redis://127.0.0.1:{redis_server.port}/0?prefix={unique_prefix()}"
            redis_backend, memory = RedisBackend(parse_storage_url(url)), MemoryBackend()
            await redis_backend.start()
            try:
                for op, key, lattice in ops:
                    expected = await outcome(memory, op, key, lattice)
                    assert await outcome(redis_backend, op, key, lattice) == expected, (op, key)
                keys = await memory.keys()
                assert await redis_backend.keys() == keys
                for mine, theirs in zip(
                    await redis_backend.get(keys), await memory.get(keys), strict=True
                ):
                    assert mine is not None and theirs is not None
                    assert (mine.seq, mine.encoded) == (theirs.seq, theirs.encoded)
                    assert encode(decode(mine.encoded)) == mine.encoded
                assert await redis_backend.stats() == await memory.stats()
                assert await redis_backend.watermark() == await memory.watermark()
            finally:
                await redis_backend.close()

        check()
    finally:
        loop.close()
