"""Unit tests for the in-memory lattice store (cloudburst_cache.store.LatticeStore)."""

from __future__ import annotations

import asyncio
import time

import pytest
from cloudburst_cache.store import LatticeStore
from cloudburst_lattices import LWW, MaxLattice, SetLattice, decode, encode
from cloudburst_protocol.errors import InvalidArgumentError


def test_put_new_key_returns_encoded_value() -> None:
    """Putting a new key stores and returns exactly the bytes given."""
    store = LatticeStore()
    encoded = encode(LWW(1, b"v"))
    assert store.put("k", encoded) == encoded
    assert store.get("k") == encoded
    assert len(store) == 1


def test_get_missing_key_is_none() -> None:
    """A key never written reads as None."""
    assert LatticeStore().get("missing") is None


@pytest.mark.parametrize("order", [(1, 2), (2, 1)])
def test_lww_higher_timestamp_wins_regardless_of_order(order: tuple[int, int]) -> None:
    """LWW merge keeps the higher timestamp whichever write arrives first."""
    store = LatticeStore()
    values = {1: LWW(1, b"old"), 2: LWW(2, b"new")}
    returned = b""
    for ts in order:
        returned = store.put("k", encode(values[ts]))
    assert decode(returned) == LWW(2, b"new")
    assert decode(store.get("k") or b"") == LWW(2, b"new")
    assert returned == store.get("k")


def test_lww_stale_write_returns_current_value() -> None:
    """A stale write returns (and keeps) the newer value already stored."""
    store = LatticeStore()
    newer = encode(LWW(10, b"newer"))
    store.put("k", newer)
    assert store.put("k", encode(LWW(3, b"stale"))) == newer
    assert store.get("k") == newer


def test_sets_union_on_put() -> None:
    """SetLattice writes merge as a union; the merged bytes are returned."""
    store = LatticeStore()
    store.put("s", encode(SetLattice(frozenset({b"a", b"b"}))))
    merged = store.put("s", encode(SetLattice(frozenset({b"b", b"c"}))))
    assert decode(merged) == SetLattice(frozenset({b"a", b"b", b"c"}))
    assert store.get("s") == merged


def test_idempotent_put() -> None:
    """Writing the same value twice leaves the stored bytes unchanged."""
    store = LatticeStore()
    encoded = encode(SetLattice(frozenset({b"x"})))
    first = store.put("s", encoded)
    assert store.put("s", encode(SetLattice(frozenset({b"x"})))) == first


def test_type_mismatch_names_both_types() -> None:
    """Merging a different lattice type raises InvalidArgumentError naming both types."""
    store = LatticeStore()
    original = encode(LWW(1, b"v"))
    store.put("k", original)
    with pytest.raises(InvalidArgumentError) as info:
        store.put("k", encode(SetLattice(frozenset({b"x"}))))
    message = str(info.value)
    assert "LWW" in message
    assert "SetLattice" in message
    assert "'k'" in message
    assert store.get("k") == original


def test_type_mismatch_other_types() -> None:
    """The mismatch check also applies to other lattice pairs (Max into Set)."""
    store = LatticeStore()
    store.put("k", encode(SetLattice(frozenset({b"x"}))))
    with pytest.raises(InvalidArgumentError, match="MaxLattice"):
        store.put("k", encode(MaxLattice(3)))


@pytest.mark.parametrize("garbage", [b"", b"\xff\xff\xff", b"not a lattice at all"])
def test_garbage_bytes_rejected(garbage: bytes) -> None:
    """Bytes that do not decode as a lattice raise InvalidArgumentError and store nothing."""
    store = LatticeStore()
    with pytest.raises(InvalidArgumentError, match="not a lattice"):
        store.put("k", garbage)
    assert store.get("k") is None
    assert len(store) == 0


def test_empty_key_rejected() -> None:
    """An empty key raises InvalidArgumentError."""
    with pytest.raises(InvalidArgumentError, match="empty"):
        LatticeStore().put("", encode(LWW(1, b"v")))


def test_delete() -> None:
    """delete() removes a key and reports whether it existed."""
    store = LatticeStore()
    store.put("k", encode(LWW(1, b"v")))
    assert store.delete("k") is True
    assert store.get("k") is None
    assert store.delete("k") is False
    assert len(store) == 0


def test_delete_then_put_starts_fresh() -> None:
    """After delete, a lower-timestamp write is not merged with the deleted value."""
    store = LatticeStore()
    store.put("k", encode(LWW(9, b"nine")))
    store.delete("k")
    store.put("k", encode(LWW(1, b"one")))
    assert decode(store.get("k") or b"") == LWW(1, b"one")


def test_keys_sorted_and_filtered_by_prefix() -> None:
    """keys() lists keys sorted; a prefix keeps only keys starting with it."""
    store = LatticeStore()
    for key in ["user/b", "job/1", "user/a", "userx", "a"]:
        store.put(key, encode(LWW(1, b"v")))
    assert store.keys() == ["a", "job/1", "user/a", "user/b", "userx"]
    assert store.keys("user/") == ["user/a", "user/b"]
    assert store.keys("user") == ["user/a", "user/b", "userx"]
    assert store.keys("zzz") == []


# -- wait_for ---------------------------------------------------------------------------------


def test_wait_for_returns_immediately_when_present() -> None:
    """wait_for returns at once, registering no waiter, when every key exists."""
    store = LatticeStore()
    store.put("a", encode(LWW(1, b"v")))
    store.put("b", encode(LWW(1, b"v")))

    async def scenario() -> float:
        start = time.monotonic()
        await asyncio.wait_for(store.wait_for(["a", "b"], timeout=10.0), 1.0)
        return time.monotonic() - start

    assert asyncio.run(scenario()) < 0.5
    assert store._waiters == {}


def test_wait_for_no_keys_returns() -> None:
    """Waiting for no keys at all returns at once."""
    store = LatticeStore()
    asyncio.run(asyncio.wait_for(store.wait_for([], timeout=10.0), 1.0))
    assert store._waiters == {}


def test_wait_for_wakes_on_put_from_another_task() -> None:
    """A waiter is woken by the put that creates the last missing key, long before timeout."""
    store = LatticeStore()

    async def scenario() -> float:
        start = time.monotonic()
        waiter = asyncio.create_task(store.wait_for(["a", "b"], timeout=10.0))
        await asyncio.sleep(0.01)
        assert set(store._waiters) == {"a", "b"}
        store.put("a", encode(LWW(1, b"v")))
        await asyncio.sleep(0.01)
        assert not waiter.done()  # still missing "b"
        assert set(store._waiters) == {"b"}

        async def writer() -> None:
            store.put("b", encode(SetLattice(frozenset({b"x"}))))

        await asyncio.gather(writer(), asyncio.wait_for(waiter, 2.0))
        return time.monotonic() - start

    assert asyncio.run(scenario()) < 2.0
    assert store._waiters == {}


def test_wait_for_wakes_every_waiter_on_the_key() -> None:
    """Several tasks waiting on the same key all wake on one put."""
    store = LatticeStore()

    async def scenario() -> None:
        tasks = [asyncio.create_task(store.wait_for(["k"], timeout=10.0)) for _ in range(3)]
        await asyncio.sleep(0.01)
        assert len(store._waiters["k"]) == 3
        store.put("k", encode(LWW(1, b"v")))
        await asyncio.wait_for(asyncio.gather(*tasks), 2.0)

    asyncio.run(scenario())
    assert store._waiters == {}


def test_wait_for_times_out_when_never_written() -> None:
    """wait_for returns (without raising) after the timeout when the key never appears."""
    store = LatticeStore()

    async def scenario() -> float:
        start = time.monotonic()
        await asyncio.wait_for(store.wait_for(["never"], timeout=0.05), 2.0)
        return time.monotonic() - start

    elapsed = asyncio.run(scenario())
    assert 0.04 <= elapsed < 1.5
    assert store.get("never") is None
    assert store._waiters == {}


def test_wait_for_cancelled_leaves_no_waiters() -> None:
    """Cancelling a waiting task removes its waiters."""
    store = LatticeStore()

    async def scenario() -> None:
        task = asyncio.create_task(store.wait_for(["x", "y"], timeout=10.0))
        await asyncio.sleep(0.01)
        assert set(store._waiters) == {"x", "y"}
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert store._waiters == {}


def test_wait_for_timeout_keeps_other_waiters() -> None:
    """One waiter timing out does not remove another task's waiter on the same key."""
    store = LatticeStore()

    async def scenario() -> None:
        long_wait = asyncio.create_task(store.wait_for(["k"], timeout=10.0))
        await store.wait_for(["k"], timeout=0.02)
        assert len(store._waiters.get("k", [])) == 1
        store.put("k", encode(LWW(1, b"v")))
        await asyncio.wait_for(long_wait, 2.0)

    asyncio.run(scenario())
    assert store._waiters == {}
