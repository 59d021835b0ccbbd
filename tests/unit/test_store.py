"""Unit tests for the in-memory lattice store (cloudburst_cache.store.LatticeStore)."""

from __future__ import annotations

import asyncio
import time

import pytest
from cloudburst_cache.store import LatticeStore, Version
from cloudburst_lattices import LWW, MaxLattice, SetLattice, decode, encode
from cloudburst_protocol.errors import InvalidArgumentError, SnapshotExpiredError


def test_put_new_key_returns_version_of_encoded_value() -> None:
    """Putting a new key stores the bytes given and returns a version holding them."""
    store = LatticeStore()
    encoded = encode(LWW(1, b"v"))
    version = store.put("k", encoded)
    assert version.encoded == encoded
    assert version.lattice == LWW(1, b"v")
    assert store.get("k") == encoded
    assert store.version("k") == version
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
        version = store.put("k", encode(values[ts]))
        returned = version.encoded
        assert decode(returned) == version.lattice
    assert decode(returned) == LWW(2, b"new")
    assert decode(store.get("k") or b"") == LWW(2, b"new")
    assert returned == store.get("k")


def test_lww_stale_write_returns_current_value() -> None:
    """A stale write returns (and keeps) the newer value already stored."""
    store = LatticeStore()
    newer = encode(LWW(10, b"newer"))
    store.put("k", newer)
    stale = store.put("k", encode(LWW(3, b"stale")))
    assert stale.encoded == newer
    assert stale.lattice == LWW(10, b"newer")
    assert store.get("k") == newer


def test_sets_union_on_put() -> None:
    """SetLattice writes merge as a union; the merged version is returned."""
    store = LatticeStore()
    store.put("s", encode(SetLattice(frozenset({b"a", b"b"}))))
    merged = store.put("s", encode(SetLattice(frozenset({b"b", b"c"}))))
    assert merged.lattice == SetLattice(frozenset({b"a", b"b", b"c"}))
    assert decode(merged.encoded) == merged.lattice
    assert store.get("s") == merged.encoded


def test_idempotent_put() -> None:
    """Writing the same value twice leaves the stored bytes unchanged."""
    store = LatticeStore()
    encoded = encode(SetLattice(frozenset({b"x"})))
    first = store.put("s", encoded)
    assert store.put("s", encode(SetLattice(frozenset({b"x"})))) == first


def test_type_mismatch_names_both_kinds() -> None:
    """Merging a different lattice kind raises InvalidArgumentError naming both kinds."""
    store = LatticeStore()
    original = encode(LWW(1, b"v"))
    store.put("k", original)
    with pytest.raises(InvalidArgumentError) as info:
        store.put("k", encode(SetLattice(frozenset({b"x"}))))
    message = str(info.value)
    assert message.startswith(
        "key 'k' holds a plain value (last writer wins); a set (merged by union) cannot be "
        "merged into it (delete the key first"
    )
    assert store.get("k") == original


def test_type_mismatch_other_types() -> None:
    """The mismatch check also applies to other lattice pairs (Max into Set)."""
    store = LatticeStore()
    store.put("k", encode(SetLattice(frozenset({b"x"}))))
    with pytest.raises(InvalidArgumentError) as info:
        store.put("k", encode(MaxLattice(3)))
    message = str(info.value)
    assert "holds a set (merged by union)" in message
    assert "a maximum (merged by max) cannot be merged into it" in message
    assert "delete the key first" in message


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


# -- versions, listeners, byte accounting -----------------------------------------------------


def _recorder(store: LatticeStore) -> list[tuple[str, Version | None]]:
    heard: list[tuple[str, Version | None]] = []
    store.add_listener(lambda key, version: heard.append((key, version)))
    return heard


def test_every_change_gets_the_next_seq() -> None:
    """Each changing put, on any key, gets the next sequence number; the store tracks the last."""
    store = LatticeStore()
    assert store.seq == 0
    first = store.put("a", encode(LWW(1, b"x")))
    second = store.put("b", encode(LWW(1, b"y")))
    third = store.put("a", encode(LWW(2, b"z")))
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert store.seq == 3
    assert store.version("a") == third
    assert store.version("b") == second


def test_noop_put_returns_current_version_without_new_seq() -> None:
    """A put that changes nothing returns the held version and consumes no sequence number."""
    store = LatticeStore()
    held = store.put("k", encode(LWW(5, b"new")))
    again = store.put("k", encode(LWW(5, b"new")))
    stale = store.put("k", encode(LWW(1, b"old")))
    assert again is held
    assert stale is held
    assert store.seq == 1
    assert store.put("other", encode(LWW(1, b"v"))).seq == 2


def test_set_subset_put_is_noop() -> None:
    """Merging a subset into a held set changes nothing and gets no new seq."""
    store = LatticeStore()
    held = store.put("s", encode(SetLattice(frozenset({b"a", b"b"}))))
    assert store.put("s", encode(SetLattice(frozenset({b"a"})))) is held
    assert store.seq == 1


def test_delete_takes_a_seq_but_missing_delete_does_not() -> None:
    """Deleting a held key is a change with its own seq; deleting a missing key is not."""
    store = LatticeStore()
    store.put("k", encode(LWW(1, b"v")))
    assert store.delete("k") is True
    assert store.seq == 2
    assert store.delete("k") is False
    assert store.seq == 2
    assert store.version("k") is None
    assert store.put("k", encode(LWW(1, b"v"))).seq == 3


def test_rejected_put_changes_nothing() -> None:
    """A put rejected for a kind mismatch changes no seq, bytes or version and notifies no one."""
    store = LatticeStore()
    held = store.put("k", encode(LWW(1, b"v")))
    heard = _recorder(store)
    with pytest.raises(InvalidArgumentError):
        store.put("k", encode(MaxLattice(3)))
    assert store.seq == 1
    assert store.bytes == len(held.encoded)
    assert store.version("k") is held
    assert heard == []


def test_listener_hears_each_change_with_its_version() -> None:
    """Listeners hear (key, version) for every changing put, in order."""
    store = LatticeStore()
    heard = _recorder(store)
    one = store.put("a", encode(SetLattice(frozenset({b"1"}))))
    two = store.put("a", encode(SetLattice(frozenset({b"2"}))))
    three = store.put("b", encode(MaxLattice(7)))
    assert heard == [("a", one), ("a", two), ("b", three)]
    assert two.lattice == SetLattice(frozenset({b"1", b"2"}))


def test_noop_merge_notifies_nobody() -> None:
    """A put that merges to the held value calls no listener."""
    store = LatticeStore()
    store.put("k", encode(MaxLattice(10)))
    heard = _recorder(store)
    store.put("k", encode(MaxLattice(3)))
    store.put("k", encode(MaxLattice(10)))
    assert heard == []
    store.put("k", encode(MaxLattice(11)))
    assert [(key, v.seq if v else None) for key, v in heard] == [("k", 2)]


def test_delete_notifies_none() -> None:
    """Deleting a key tells listeners (key, None); deleting a missing key tells nobody."""
    store = LatticeStore()
    store.put("k", encode(LWW(1, b"v")))
    heard = _recorder(store)
    store.delete("k")
    store.delete("k")
    store.delete("never")
    assert heard == [("k", None)]


def test_every_listener_hears_and_removed_ones_stop() -> None:
    """All listeners hear a change; a removed listener hears nothing more."""
    store = LatticeStore()
    first: list[str] = []
    second: list[str] = []

    def listen_first(key: str, version: Version | None) -> None:
        first.append(key)

    def listen_second(key: str, version: Version | None) -> None:
        second.append(key)

    store.add_listener(listen_first)
    store.add_listener(listen_second)
    store.put("a", encode(LWW(1, b"v")))
    store.remove_listener(listen_first)
    store.remove_listener(listen_first)  # removing twice is harmless
    store.put("b", encode(LWW(1, b"v")))
    assert first == ["a"]
    assert second == ["a", "b"]


def test_listener_removing_itself_does_not_skip_others() -> None:
    """A listener that removes itself while being notified does not stop the next one hearing."""
    store = LatticeStore()
    heard: list[str] = []

    def once(key: str, version: Version | None) -> None:
        heard.append("once:" + key)
        store.remove_listener(once)

    def always(key: str, version: Version | None) -> None:
        heard.append("always:" + key)

    store.add_listener(once)
    store.add_listener(always)
    store.put("a", encode(LWW(1, b"v")))
    store.put("b", encode(LWW(1, b"v")))
    assert heard == ["once:a", "always:a", "always:b"]


def test_listener_sees_the_store_already_updated() -> None:
    """When a listener runs, the store already holds the version it is told about."""
    store = LatticeStore()
    seen: list[bytes | None] = []
    store.add_listener(lambda key, version: seen.append(store.get(key)))
    version = store.put("k", encode(LWW(1, b"v")))
    store.delete("k")
    assert seen == [version.encoded, None]


def test_bytes_track_total_encoded_size() -> None:
    """bytes is the sum of the held encodings through puts, merges, no-ops and deletes."""
    store = LatticeStore()
    assert store.bytes == 0
    a = store.put("a", encode(SetLattice(frozenset({b"x"}))))
    b = store.put("b", encode(LWW(1, b"short")))
    assert store.bytes == len(a.encoded) + len(b.encoded)
    grown = store.put("a", encode(SetLattice(frozenset({b"y" * 100}))))
    assert len(grown.encoded) > len(a.encoded)
    assert store.bytes == len(grown.encoded) + len(b.encoded)
    store.put("a", encode(SetLattice(frozenset({b"x"}))))  # no-op
    assert store.bytes == len(grown.encoded) + len(b.encoded)
    shrunk = store.put("b", encode(LWW(2, b"")))
    assert len(shrunk.encoded) < len(b.encoded)
    assert store.bytes == len(grown.encoded) + len(shrunk.encoded)
    store.delete("a")
    assert store.bytes == len(shrunk.encoded)
    store.delete("b")
    assert store.bytes == 0


def test_merged_version_encoding_decodes_to_its_lattice() -> None:
    """A merged version's encoding is the encoding of its lattice."""
    store = LatticeStore()
    store.put("s", encode(SetLattice(frozenset({b"a"}))))
    merged = store.put("s", encode(SetLattice(frozenset({b"b"}))))
    assert merged.encoded == encode(merged.lattice)
    assert store.get("s") == merged.encoded


def test_replaced_versions_are_bounded_in_bytes_over_all_keys() -> None:
    """Rewriting large values keeps at most ``history_max_bytes`` of old versions; a snapshot
    older than what is kept fails typed, a recent one still reads its version."""
    store = LatticeStore()
    store.history_max_bytes = 10_000
    seqs: list[int] = []
    for i in range(20):
        for key in ("a", "b"):
            store.put(key, encode(LWW(i + 1, bytes([i]) * 1000)))
        seqs.append(store.seq)
    assert 0 < store.history_bytes <= 10_000
    with pytest.raises(SnapshotExpiredError, match="no longer kept"):
        store.get_as_of("a", seqs[0])
    recent = store.get_as_of("a", seqs[-2])
    assert recent is not None and decode(recent.encoded) == LWW(19, bytes([18]) * 1000)


def test_keys_never_written_again_leave_nothing_behind_once_their_history_ages() -> None:
    """Results written once and deleted (expired): once their replaced states are older than
    history_s they are dropped by later writes to other keys, and nothing per key remains
    (the store's memory follows the write rate, not every key ever written). Snapshots from
    before what was dropped are refused, never answered wrongly."""
    store = LatticeStore(history_s=0.0)
    first = store.put("r0", encode(LWW(1, b"x" * 100))).seq
    store.delete("r0")
    for i in range(1, 2000):
        store.put(f"r{i}", encode(LWW(1, b"x" * 100)))
        store.delete(f"r{i}")
    store.put("other", encode(LWW(1, b"y")))
    assert len(store._history) <= 1
    assert len(store._forgotten) <= 1
    assert len(store._history_order) <= 4
    assert store.history_bytes <= 200
    with pytest.raises(SnapshotExpiredError):
        store.get_as_of("r0", first)
    assert store.get_as_of("r0", store.seq) is None
    assert store.get_as_of("never", store.seq) is None
