"""Unit tests for a node cache's contents (cloudburst_cache.node.NodeCacheState)."""

from __future__ import annotations

import pytest
from cloudburst_cache.node import Entry, NodeCacheState, Report


def _filled(max_bytes: int, *keys: str, size: int = 10) -> NodeCacheState:
    """A cache holding ``keys`` (inserted in order, seq 1, ``size`` bytes each), report reset."""
    state = NodeCacheState(max_bytes)
    for key in keys:
        assert state.store(key, 1, key.encode().ljust(size, b".")) == []
    state.report()
    return state


# -- construction ------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [0, -1, -1000])
def test_non_positive_limit_rejected(limit: int) -> None:
    """A cache needs a positive byte limit."""
    with pytest.raises(ValueError, match="positive"):
        NodeCacheState(limit)


def test_new_cache_is_empty() -> None:
    """A new cache holds nothing and has counted nothing."""
    state = NodeCacheState(1)
    assert len(state) == 0
    assert state.held() == {}
    assert (state.bytes, state.hits, state.misses, state.evictions) == (0, 0, 0, 0)
    assert state.report() is None


# -- lookup and LRU ---------------------------------------------------------------------------


def test_lookup_counts_hits_and_misses() -> None:
    """A held key is a hit returning its entry; a missing one is a miss returning None."""
    state = NodeCacheState(100)
    state.store("k", 4, b"value")
    assert state.lookup("k") == Entry(4, b"value")
    assert state.lookup("k") == Entry(4, b"value")
    assert state.lookup("missing") is None
    assert (state.hits, state.misses) == (2, 1)


def test_store_and_contains_and_seq() -> None:
    """A stored key is held with its seq; an unknown key has seq 0."""
    state = NodeCacheState(100)
    state.store("k", 7, b"abc")
    assert "k" in state
    assert "other" not in state
    assert state.seq("k") == 7
    assert state.seq("other") == 0
    assert len(state) == 1
    assert state.bytes == 3


def test_eviction_removes_coldest_first() -> None:
    """Past the limit, the least recently stored entry is evicted and returned."""
    state = _filled(30, "a", "b", "c")
    assert state.store("d", 1, b"d" * 10) == ["a"]
    assert list(state.held()) == ["b", "c", "d"]
    assert state.bytes == 30
    assert state.evictions == 1


def test_lookup_makes_entry_most_recent() -> None:
    """A looked-up entry survives eviction that takes the next coldest instead."""
    state = _filled(30, "a", "b", "c")
    state.lookup("a")
    assert state.store("d", 1, b"d" * 10) == ["b"]
    assert "a" in state
    assert list(state.held()) == ["c", "a", "d"]


def test_miss_does_not_change_order() -> None:
    """Looking up a missing key leaves the LRU order as it was."""
    state = _filled(30, "a", "b", "c")
    state.lookup("zzz")
    assert state.store("d", 1, b"d" * 10) == ["a"]


def test_eviction_evicts_as_many_as_needed() -> None:
    """A large insert evicts several cold entries, oldest first, all counted."""
    state = _filled(40, "a", "b", "c", "d")
    evicted = state.store("big", 1, b"x" * 25)
    assert evicted == ["a", "b", "c"]
    assert list(state.held()) == ["d", "big"]
    assert state.bytes == 35
    assert state.evictions == 3


def test_value_exactly_at_limit_is_kept() -> None:
    """A value exactly as large as the limit is kept, evicting everything else."""
    state = _filled(30, "a", "b")
    assert state.store("full", 1, b"f" * 30) == ["a", "b"]
    assert state.held() == {"full": 30}
    assert state.bytes == 30


def test_value_larger_than_limit_is_not_kept() -> None:
    """A value larger than the whole limit is not stored and evicts nothing."""
    state = _filled(30, "a", "b")
    state.store("huge", 1, b"h" * 31)
    assert "huge" not in state
    assert list(state.held()) == ["a", "b"]
    assert state.bytes == 20
    assert state.evictions == 0


def test_oversized_new_version_drops_older_version() -> None:
    """A too-large newer version of a held key drops the older one and returns the key."""
    state = _filled(30, "a", "b")
    assert state.store("a", 2, b"h" * 31) == ["a"]
    assert "a" not in state
    assert state.held() == {"b": 10}
    assert state.bytes == 10
    report = state.report()
    assert report is not None
    assert report.dropped == ["a"]
    assert report.held == {}


def test_oversized_unheld_value_is_returned_as_evicted() -> None:
    """store() returns the key itself when its value alone exceeds the limit, held or not."""
    state = NodeCacheState(30)
    assert state.store("huge", 1, b"h" * 31) == ["huge"]


# -- seq ordering on store ---------------------------------------------------------------------


def test_store_ignores_older_or_same_seq() -> None:
    """Storing a version no newer than the held one keeps the held one."""
    state = NodeCacheState(100)
    state.store("k", 5, b"five")
    assert state.store("k", 3, b"three") == []
    assert state.store("k", 5, b"other") == []
    assert state.lookup("k") == Entry(5, b"five")
    assert state.bytes == 4


def test_store_replaces_with_newer_seq() -> None:
    """A newer seq replaces the held version and adjusts the byte count."""
    state = NodeCacheState(100)
    state.store("k", 5, b"five")
    assert state.store("k", 6, b"six-six") == []
    assert state.lookup("k") == Entry(6, b"six-six")
    assert state.bytes == 7
    assert len(state) == 1


def test_store_seq_zero_always_stores() -> None:
    """Seq 0 means unknown: it replaces whatever is held."""
    state = NodeCacheState(100)
    state.store("k", 9, b"nine")
    state.store("k", 0, b"unknown")
    assert state.lookup("k") == Entry(0, b"unknown")
    assert state.bytes == 7


def test_ignored_older_store_still_refreshes_recency() -> None:
    """Storing a stale version of a held key makes the key most recently used."""
    state = _filled(30, "a", "b", "c")
    state.store("a", 1, b"stale")  # same seq as held: ignored
    assert state.lookup("a") == Entry(1, b"a.........")
    assert state.store("d", 1, b"d" * 10) == ["b"]


def test_replacing_a_key_can_evict_others() -> None:
    """Growing a key through store evicts the coldest other keys."""
    state = _filled(30, "a", "b", "c")
    assert state.store("c", 2, b"c" * 20) == ["a"]
    assert state.held() == {"b": 10, "c": 20}
    assert state.bytes == 30


# -- update (pushed changes) -------------------------------------------------------------------


def test_update_ignores_keys_not_held() -> None:
    """An update of a key the cache does not hold is refused and stores nothing."""
    state = NodeCacheState(100)
    assert state.update("k", 3, b"v") == []
    assert state.update("k", 3, None) == []
    assert "k" not in state
    assert state.bytes == 0
    assert state.report() is None


def test_update_applies_newer_seq() -> None:
    """An update with a newer seq replaces the held value and byte count."""
    state = NodeCacheState(100)
    state.store("k", 3, b"old")
    assert state.update("k", 4, b"newer") == []
    assert state.lookup("k") == Entry(4, b"newer")
    assert state.bytes == 5


def test_update_ignores_older_or_same_seq() -> None:
    """An update that arrives late (older or equal seq) does not replace a newer version."""
    state = NodeCacheState(100)
    state.store("k", 5, b"five")
    assert state.update("k", 4, b"four!!") == []
    assert state.update("k", 5, b"again!") == []
    assert state.lookup("k") == Entry(5, b"five")
    assert state.bytes == 4


def test_update_none_drops_key() -> None:
    """An update saying the key was deleted drops it and reports it dropped."""
    state = _filled(100, "a", "b")
    assert state.update("a", 9, None) == []
    assert "a" not in state
    assert state.bytes == 10
    report = state.report()
    assert report == Report(False, {}, ["a"])


def test_update_is_reported_with_new_size() -> None:
    """A key changed by an update appears in the next report with its new size."""
    state = _filled(100, "a")
    state.update("a", 2, b"x" * 17)
    assert state.report() == Report(False, {"a": 17}, [])


def test_update_growing_a_value_keeps_within_limit() -> None:
    """After an update grows a held value, the cache still holds no more than its limit."""
    state = _filled(30, "a", "b", "c")
    assert state.update("c", 2, b"c" * 25) == ["a", "b"]
    assert state.bytes <= state.max_bytes
    assert "c" in state
    assert sum(state.held().values()) <= state.max_bytes


# -- drop and clear ----------------------------------------------------------------------------


def test_drop() -> None:
    """drop removes a held key (True) and is False for a missing key; evictions not counted."""
    state = _filled(100, "a", "b")
    assert state.drop("a") is True
    assert state.drop("a") is False
    assert state.held() == {"b": 10}
    assert state.bytes == 10
    assert state.evictions == 0


def test_clear_returns_and_drops_everything() -> None:
    """clear returns every held key, empties the cache and reports them all dropped."""
    state = _filled(100, "a", "b", "c")
    assert state.clear() == ["a", "b", "c"]
    assert len(state) == 0
    assert state.bytes == 0
    assert state.report() == Report(False, {}, ["a", "b", "c"])
    assert state.clear() == []
    assert state.report() is None


def test_held_lists_sizes_in_lru_order() -> None:
    """held() maps each key to its encoded size, coldest first."""
    state = NodeCacheState(100)
    state.store("x", 1, b"123")
    state.store("y", 1, b"12345")
    state.lookup("x")
    assert list(state.held().items()) == [("y", 5), ("x", 3)]


# -- reports -----------------------------------------------------------------------------------


def test_report_none_when_nothing_changed() -> None:
    """With no change since the last report, report() is None; lookups are not changes."""
    state = _filled(100, "a")
    state.lookup("a")
    state.lookup("missing")
    state.store("a", 1, b"ignored")  # not newer: no change
    assert state.report() is None


def test_report_lists_added_keys_with_sizes_then_resets() -> None:
    """A report holds keys added since the last one with their sizes; the next is None."""
    state = NodeCacheState(100)
    state.store("a", 1, b"1234")
    state.store("b", 1, b"12")
    assert state.report() == Report(False, {"a": 4, "b": 2}, [])
    assert state.report() is None
    state.store("c", 1, b"123")
    assert state.report() == Report(False, {"c": 3}, [])


def test_report_lists_evicted_keys_as_dropped() -> None:
    """Keys evicted for room appear as dropped, sorted, alongside the key that caused it."""
    state = _filled(30, "b", "a", "c")
    state.store("d", 1, b"d" * 20)
    assert state.report() == Report(False, {"d": 20}, ["a", "b"])


def test_added_then_dropped_reports_only_dropped() -> None:
    """A key added and dropped between reports shows only as dropped."""
    state = NodeCacheState(100)
    state.store("k", 1, b"v")
    state.drop("k")
    assert state.report() == Report(False, {}, ["k"])


def test_dropped_then_added_reports_only_added() -> None:
    """A key dropped and stored again between reports shows only as held, with its size."""
    state = _filled(100, "k")
    state.drop("k")
    state.store("k", 2, b"again")
    assert state.report() == Report(False, {"k": 5}, [])


def test_full_report_lists_everything_held() -> None:
    """report(full=True) lists every held key and size, and resets the deltas."""
    state = _filled(100, "a", "b")
    state.store("c", 1, b"ccc")
    state.drop("a")
    assert state.report(full=True) == Report(True, {"b": 10, "c": 3}, [])
    assert state.report() is None


def test_full_report_of_empty_cache() -> None:
    """A full report is given even when nothing is held or changed."""
    state = NodeCacheState(10)
    assert state.report(full=True) == Report(True, {}, [])


def test_update_to_a_value_over_the_limit_drops_the_key() -> None:
    """A pushed value larger than the whole limit is not kept: the key is dropped and
    returned, so the cache stops watching it."""
    state = _filled(30, "a", "b")
    assert state.update("a", 2, b"a" * 31) == ["a"]
    assert "a" not in state
    assert state.bytes == 10
