"""The embedded store on disk (cloudburst_cache.persistence with backends.memory): real
SQLite files in a temporary directory, reopened as a restarted authority would."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from cloudburst_cache.backends.memory import MemoryBackend
from cloudburst_cache.persistence import DB_FILE, DataDirError, DiskLog
from cloudburst_lattices import LWW, SetLattice, decode, encode
from cloudburst_protocol.errors import SnapshotExpiredError
from conftest import wait_for_async

MODES = ["always", "everysec"]


def lww(value: bytes, ts: int = 1) -> bytes:
    return encode(LWW(ts, value))


async def started(directory: Path, mode: str) -> MemoryBackend:
    backend = MemoryBackend(disk=DiskLog(directory, mode))
    await backend.start()
    return backend


@pytest.mark.parametrize("mode", MODES)
def test_values_registry_records_and_seq_survive_a_restart(tmp_path: Path, mode: str) -> None:
    """User values, runtime records under __cb/ (opaque bytes) and deletions are back after
    a restart, and the total order continues after the last sequence number."""
    record = b"\x00\x01opaque registry bytes\xff"

    async def scenario() -> None:
        first = await started(tmp_path, mode)
        await first.put("user", lww(b"v1"))
        await first.put("user", lww(b"v2", ts=2))
        await first.put("__cb/fn/abc", lww(record))
        await first.put("__cb/dag/d", lww(b"dag"))
        await first.put("set", encode(SetLattice({b"a"})))
        await first.put("set", encode(SetLattice({b"b"})))
        await first.put("gone", lww(b"x"))
        await first.delete("gone")
        seq = await first.watermark()
        await first.close()

        second = await started(tmp_path, mode)
        assert await second.keys() == ["__cb/dag/d", "__cb/fn/abc", "set", "user"]
        values = {
            k: v.encoded if v else None
            for k, v in zip(
                ["user", "__cb/fn/abc", "set", "gone"],
                await second.get(["user", "__cb/fn/abc", "set", "gone"]),
                strict=True,
            )
        }
        assert values["user"] == lww(b"v2", ts=2)
        assert values["__cb/fn/abc"] == lww(record)
        assert values["set"] is not None and decode(values["set"]) == SetLattice({b"a", b"b"})
        assert values["gone"] is None
        assert await second.watermark() == seq
        assert (await second.put("new", lww(b"n"))).seq == seq + 1
        await second.close()

    asyncio.run(scenario())


def test_a_snapshot_from_before_a_restart_is_refused_not_answered_wrongly(tmp_path: Path) -> None:
    """History is not stored: a read as of a sequence number before the restart raises
    SnapshotExpiredError; reads as of the restart point or later are exact."""

    async def scenario() -> None:
        first = await started(tmp_path, "always")
        old = (await first.put("k", lww(b"old"))).seq
        await first.put("k", lww(b"new", ts=2))
        await first.close()
        second = await started(tmp_path, "always")
        with pytest.raises(SnapshotExpiredError, match="restarted"):
            await second.get_as_of("k", old)
        now = await second.watermark()
        version = await second.get_as_of("k", now)
        assert version is not None and version.encoded == lww(b"new", ts=2)
        await second.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("mode", MODES)
def test_expiry_is_kept_on_disk_and_survives_a_restart(tmp_path: Path, mode: str) -> None:
    """A value written with an expiry is deleted by the sweep after its time, also when the
    store restarted in between; a value without expiry stays; nothing is held in memory
    for the expiry."""

    async def scenario() -> None:
        first = await started(tmp_path, mode)
        await first.put("result", lww(b"r"), expire_ms=300)
        await first.put("kept", lww(b"k"))
        assert await first.expire_due() == 0  # not due yet
        await first.close()

        second = await started(tmp_path, mode)
        assert not second._expiries  # the expiry lives in the SQLite index only

        async def only_kept() -> bool:
            await second.expire_due()
            return await second.keys() == ["kept"]

        await wait_for_async(only_kept, "the result expired", timeout=10)
        await second.close()
        third = await started(tmp_path, mode)
        assert await third.keys() == ["kept"]
        await third.close()

    asyncio.run(scenario())


def test_rewriting_a_key_without_expiry_cancels_its_expiry(tmp_path: Path) -> None:
    """Like SET in Redis: a newer version written without an expiry is kept."""

    async def scenario() -> None:
        backend = await started(tmp_path, "always")
        await backend.put("k", lww(b"1"), expire_ms=1)
        await backend.put("k", lww(b"2", ts=2))
        await asyncio.sleep(0.01)
        assert await backend.expire_due() == 0
        assert await backend.keys() == ["k"]
        await backend.close()

    asyncio.run(scenario())


def test_concurrent_writers_share_commits(tmp_path: Path) -> None:
    """Group commit: many writers waiting at once are acknowledged by a few commits, and
    every one of them is stored."""

    async def scenario() -> None:
        backend = await started(tmp_path, "always")
        assert backend.disk is not None
        await asyncio.gather(*(backend.put(f"k{i}", lww(b"v")) for i in range(200)))
        assert backend.disk.commits < 100
        await backend.close()
        again = await started(tmp_path, "always")
        assert len(await again.keys()) == 200
        await again.close()

    asyncio.run(scenario())


def test_a_data_directory_in_use_is_refused(tmp_path: Path) -> None:
    """Two storage processes never share a directory: the second is refused by name."""
    first = DiskLog(tmp_path, "always")
    first.open()
    try:
        with pytest.raises(DataDirError, match="in use"):
            DiskLog(tmp_path, "always").open()
    finally:
        first.close()
    DiskLog(tmp_path, "always").open()  # released: usable again


def test_a_data_directory_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    """A directory written by an incompatible version is refused at start, naming both
    versions and the directory, and left untouched."""
    log = DiskLog(tmp_path, "always")
    log.open()
    log.close()
    with sqlite3.connect(tmp_path / DB_FILE) as db:
        db.execute("PRAGMA user_version=99")
    with pytest.raises(DataDirError, match=r"schema version 99.*reads schema 1") as info:
        DiskLog(tmp_path, "always").open()
    assert str(tmp_path) in str(info.value)
    with sqlite3.connect(tmp_path / DB_FILE) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (99,)


def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    """Garbage where the database should be: a refusal naming the directory, no crash."""
    (tmp_path / DB_FILE).write_bytes(b"not a database" * 100)
    with pytest.raises(DataDirError, match="no readable store"):
        DiskLog(tmp_path, "always").open()
