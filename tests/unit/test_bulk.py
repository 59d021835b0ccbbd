"""Large values through the host's bulk directory (cloudburst_protocol.bulk) and the
storage authority's lending of them (cloudburst_cache.lending), on a real tmpfs-or-disk
directory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cloudburst_cache.lending import Lender
from cloudburst_cache.node import Entry, NodeCacheState
from cloudburst_protocol import bulk, serializer, values
from cloudburst_protocol.bulk import MIN_BYTES, BulkDir
from cloudburst_protocol.clock import HybridClock


@pytest.fixture
def shared(tmp_path: Path) -> BulkDir:
    return BulkDir(tmp_path / "bulk")


def names(directory: BulkDir) -> list[str]:
    return sorted(p.name for p in directory.path.iterdir() if p.name != "id")


def test_processes_that_see_one_directory_share_its_id(shared: BulkDir, tmp_path: Path) -> None:
    again = BulkDir(shared.path)
    assert again.id == shared.id and shared.shares(again.id)
    other = BulkDir(tmp_path / "elsewhere")
    assert not shared.shares(other.id)
    assert not shared.shares("")


def test_the_feature_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(bulk.BULK_DIR_ENV, "off")
    assert BulkDir.from_env() is None
    monkeypatch.setenv(bulk.BULK_DIR_ENV, str(tmp_path / "configured"))
    configured = BulkDir.from_env()
    assert configured is not None and configured.path == tmp_path / "configured"


def test_a_transfer_is_taken_once_and_leaves_no_file(shared: BulkDir) -> None:
    data = os.urandom(MIN_BYTES + 17)
    name = shared.write(data)
    taken = shared.take(name)
    assert taken[:] == data
    assert names(shared) == []
    with pytest.raises(FileNotFoundError):
        shared.take(name)


def test_only_transfer_names_are_taken(shared: BulkDir) -> None:
    for bad in ("id", "../x", "k-1-abc", "t-a/b"):
        with pytest.raises(ValueError, match="not a bulk transfer"):
            shared.take(bad)


def test_a_kept_file_is_lent_by_link_and_released(shared: BulkDir) -> None:
    kept = shared.keep(b"v" * 100)
    first, second = shared.lend(kept), shared.lend(kept)
    assert shared.take(first)[:] == shared.take(second)[:] == b"v" * 100
    assert names(shared) == [kept]
    shared.release(kept)
    assert names(shared) == []


def test_adopted_transfers_are_kept_under_this_process(shared: BulkDir) -> None:
    mapped, kept = shared.adopt(shared.write(b"a" * 64))
    assert mapped[:] == b"a" * 64 and kept.startswith(f"k-{os.getpid()}-")
    assert names(shared) == [kept]


def test_sweep_removes_stale_transfers_and_files_of_dead_processes(shared: BulkDir) -> None:
    fresh = shared.write(b"fresh")
    stale = shared.write(b"stale")
    old = time.time() - bulk.STALE_TRANSFER_S - 5
    os.utime(shared.path / stale, (old, old))
    mine = shared.keep(b"mine")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    orphan = f"k-{int(dead.stdout)}-0000"
    (shared.path / orphan).write_bytes(b"orphan")
    assert shared.sweep() == 2
    assert names(shared) == sorted([fresh, mine])


def test_a_bulk_array_is_decoded_without_copying_and_stays_private(shared: BulkDir) -> None:
    array = np.arange(MIN_BYTES // 8 * 2, dtype=np.float64)
    lattice = values.wrap_encoded(serializer.dumps(array), HybridClock())
    taken = shared.take(shared.write(lattice))
    first, second = values.value_of(taken), values.value_of(taken)
    assert np.array_equal(first, array) and first.flags.writeable
    first[0] = -1.0  # a reader's writes are its own (copy-on-write)
    assert second[0] == 0.0 and values.value_of(taken)[0] == 0.0


def test_the_authority_keeps_one_file_per_version_and_lends_links(shared: BulkDir) -> None:
    lender = Lender(shared, max_bytes=3 * MIN_BYTES)
    value = b"x" * MIN_BYTES
    assert lender.lend("small", 1, b"tiny") is None  # small values go inline
    one = lender.lend("k", 1, value)
    two = lender.lend("k", 1, value)
    assert one is not None and two is not None and one != two
    assert shared.take(one)[:] == value and shared.take(two)[:] == value
    assert len(names(shared)) == 1  # one kept file, lent twice
    newer = lender.lend("k", 2, b"y" * MIN_BYTES)
    assert newer is not None and shared.take(newer)[:] == b"y" * MIN_BYTES
    assert len(names(shared)) == 1  # the older version's file is gone
    for i in range(5):  # bounded in bytes: the least recently lent go first
        lender.prepare(f"other{i}", 1, value)
    assert lender.bytes <= 3 * MIN_BYTES and len(names(shared)) == 3
    lender.close()
    assert names(shared) == []


def test_the_node_state_releases_files_of_entries_it_stops_holding() -> None:
    released: list[str] = []
    state = NodeCacheState(max_bytes=100, release=lambda e: released.append(e.file))
    state.store("a", 1, b"1" * 40, "fa")
    state.store("a", 1, b"1" * 40, "fa-again")  # not newer: refused, its file released
    state.update("a", 2, b"2" * 40, "fa2")  # replaced
    state.store("b", 1, b"3" * 50, "fb")
    state.store("c", 1, b"4" * 50, "fc")  # evicts a (least recently used)
    state.store("huge", 1, b"5" * 500, "fh")  # larger than the cache: refused
    state.drop("b")
    assert released == ["fa-again", "fa", "fa2", "fh", "fb"]
    assert isinstance(state.peek("c"), Entry) and state.hits == 0
