"""The embedded store on disk: SQLite in WAL mode, behind the in-memory store as its cache.

Every change the in-memory :class:`~cloudburst_cache.store.LatticeStore` makes is written as
one row per key (its sequence number, encoded lattice and expiry) plus the store's sequence
number; a write is acknowledged when the commit that holds it returns.

``always``: ``synchronous=FULL`` — each commit fsyncs the write-ahead log before it returns.
Commits run in a writer thread that takes every write pending when it starts a commit into
one transaction (group commit: concurrent writers share one fsync). ``everysec``:
``synchronous=NORMAL`` — each write commits at once in the event loop (tens of
microseconds: the data is handed to the operating system, not fsync'd), and a checkpoint
every second (which fsyncs the log first) makes everything committed before it safe from a
power loss. Readers never touch SQLite: the in-memory store serves them.

On start, :meth:`DiskLog.open` takes the directory's lock (one storage process per
directory), refuses a directory of another schema version, and returns every stored row.
See docs/storage.md ("Durability").
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import queue
import sqlite3
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from cloudburst_protocol.errors import CloudburstError, UnavailableError

SCHEMA_VERSION = 1
DB_FILE = "store.sqlite3"
LOCK_FILE = "store.lock"
CHECKPOINT_INTERVAL_S = 1.0
WAL_SIZE_LIMIT = 64 * 1024 * 1024
SWITCH_INTERVAL_S = 0.0002
FSYNC_MODES = ("always", "everysec", "off")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    value BLOB NOT NULL,
    expires_at INTEGER
);
CREATE INDEX IF NOT EXISTS kv_expiry ON kv (expires_at) WHERE expires_at IS NOT NULL;
"""
_UPSERT = (
    "INSERT INTO kv (key, seq, value, expires_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET seq = excluded.seq, value = excluded.value, "
    "expires_at = excluded.expires_at WHERE excluded.seq > kv.seq"
)
_DELETE = "DELETE FROM kv WHERE key = ? AND seq < ?"
_SEQ = (
    "INSERT INTO meta (name, value) VALUES ('seq', ?) "
    "ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)"
)


class StorageWriteError(UnavailableError):
    """The storage could not store a write (its disk is full, or its data directory cannot
    be written): the write was not acknowledged. It crosses the wire as
    :class:`UnavailableError` (retry once the disk has room), with the same message, which
    names the directory."""


class DataDirError(CloudburstError):
    """The data directory cannot be used: another version's, or held by another process.
    The storage process exits and is not restarted (restarting cannot help)."""


@dataclass(frozen=True, slots=True)
class Change:
    """One key's change to persist: its new version (``encoded`` ``None``: deleted)."""

    key: str
    seq: int
    encoded: bytes | None
    expires_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    seq: int
    encoded: bytes
    expires_at_ms: int | None


@dataclass(frozen=True, slots=True)
class Recovered:
    rows: list[Row]
    seq: int


Pending = tuple[list[Change], "asyncio.Future[None]", asyncio.AbstractEventLoop]


class DiskLog:
    """The SQLite file of one data directory, written with group commit (see the module)."""

    def __init__(self, directory: Path, mode: str = "always") -> None:
        if mode not in ("always", "everysec"):
            raise ValueError(f"DiskLog mode must be always or everysec, got {mode!r}")
        self.directory = directory
        self.mode = mode
        self.path = directory / DB_FILE
        self._lock_fd: int | None = None
        self._db: sqlite3.Connection | None = None  # the writer's connection
        self._queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._checkpointer: threading.Thread | None = None
        self._stopping = threading.Event()
        self.commits = 0

    # -- start and stop ----------------------------------------------------------------------

    def open(self) -> Recovered:
        """Locks the directory, checks its schema version and reads every row."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DataDirError(
                f"the storage cannot use its data directory {self.directory}: {exc.strerror}"
            ) from None
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = None
            raise DataDirError(
                f"the data directory {self.directory} is in use by another storage process"
            ) from None
        try:
            db = self._db = self._connect(check_same_thread=self.mode == "everysec")
            self._check_schema(db)
            rows = [
                Row(key, seq, value, expires)
                for key, seq, value, expires in db.execute(
                    "SELECT key, seq, value, expires_at FROM kv"
                )
            ]
            found = db.execute("SELECT value FROM meta WHERE name = 'seq'").fetchone()
        except sqlite3.OperationalError as exc:
            self.close()
            raise DataDirError(
                f"the storage cannot use its data directory {self.directory}: {exc}"
            ) from None
        except sqlite3.DatabaseError as exc:
            self.close()
            raise DataDirError(
                f"the data directory {self.directory} holds no readable store ({exc}); "
                "move it away to start with an empty store"
            ) from None
        except DataDirError:
            self.close()
            raise
        seq = max([found[0] if found else 0, *(row.seq for row in rows)])
        if self.mode == "always":
            # The writer thread needs the GIL twice per commit (to start it, to acknowledge
            # it) while the event loop runs Python: hand it over sooner than every 5 ms.
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
            self._writer = threading.Thread(target=self._write_loop, name="store-writer")
            self._writer.daemon = True
            self._writer.start()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="checkpoint")
        self._checkpointer.daemon = True
        self._checkpointer.start()
        return Recovered(rows, seq)

    def _connect(self, check_same_thread: bool = False) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=check_same_thread, timeout=10
        )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={'FULL' if self.mode == 'always' else 'NORMAL'}")
        db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpoint thread does it
        db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")  # a burst's log shrinks again
        return db

    def _check_schema(self, db: sqlite3.Connection) -> None:
        """Creates the tables in a new directory; refuses one of another schema version."""
        (version,) = db.execute("PRAGMA user_version").fetchone()
        (tables,) = db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'kv'").fetchone()
        if version == 0 and not tables:
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            return
        if version != SCHEMA_VERSION:
            raise DataDirError(
                f"the data directory {self.directory} was written by a storage of schema "
                f"version {version}; this version reads schema {SCHEMA_VERSION} only. Start "
                "the version that wrote it, or move the directory away to start empty"
            )

    def close(self) -> None:
        """Stops the threads (after pending commits) and releases the directory."""
        self._stopping.set()
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(timeout=10)
            self._writer = None
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=10)
            self._checkpointer = None
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- writes ---------------------------------------------------------------------------

    async def write(self, changes: list[Change]) -> None:
        """Returns once ``changes`` (and every change submitted before them) are committed:
        on disk (``always``) or handed to the operating system (``everysec``). An empty
        list waits for what was submitted before. Raises :class:`StorageWriteError`."""
        if self.mode == "everysec":
            # A commit without fsync costs tens of microseconds: done here, at once (a
            # hop through the event loop to gather writers costs more than it saves).
            error = self._commit_changes(changes)
            if error is not None:
                raise error
            return
        if self._writer is None or not self._writer.is_alive():
            raise StorageWriteError(f"the store in {self.directory} is closed")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.put((changes, done, loop))
        await done

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            with contextlib.suppress(queue.Empty):
                while True:
                    item = self._queue.get_nowait()
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
            error = self._commit(batch)
            for _, done, loop in batch:
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                    loop.call_soon_threadsafe(_settle, done, error)
            if stop:
                return

    def _commit(self, batch: list[Pending]) -> StorageWriteError | None:
        """One transaction for every change of ``batch``; the error that failed it."""
        return self._commit_changes([change for item in batch for change in item[0]])

    def _commit_changes(self, changes: list[Change]) -> StorageWriteError | None:
        db = self._db
        try:
            if db is None:
                raise sqlite3.OperationalError("the store is closed")
            if len(changes) == 1 and changes[0].encoded is not None:
                # One new version: one statement is its own transaction. Its row carries
                # its seq, so the stored seq (kept for deletions) need not change.
                change = changes[0]
                db.execute(_UPSERT, (change.key, change.seq, change.encoded, change.expires_at_ms))
                self.commits += 1
            elif changes:
                db.execute("BEGIN IMMEDIATE")
                try:
                    for change in changes:
                        if change.encoded is None:
                            db.execute(_DELETE, (change.key, change.seq))
                        else:
                            db.execute(
                                _UPSERT,
                                (change.key, change.seq, change.encoded, change.expires_at_ms),
                            )
                    db.execute(_SEQ, (max(change.seq for change in changes),))
                    db.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                    raise
                self.commits += 1
        except Exception as exc:  # sqlite3.Error, OSError, ...: the writer must live on
            return StorageWriteError(
                f"the storage could not write to its data directory {self.directory} ({exc}): "
                "the write was not stored; free space or fix the directory's permissions"
            )
        return None

    # -- background ---------------------------------------------------------------------

    def _checkpoint_loop(self) -> None:
        """Every second: a checkpoint, which (in WAL mode) fsyncs the log before it copies
        it into the database file — for ``everysec`` this is the fsync that bounds a power
        loss to about a second of writes; for both it keeps the log short."""
        try:
            db = self._connect()
        except sqlite3.Error:
            return
        try:
            while not self._stopping.wait(CHECKPOINT_INTERVAL_S):
                with contextlib.suppress(sqlite3.Error):
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            with contextlib.suppress(sqlite3.Error):
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()

    def due(self, now_ms: int, limit: int) -> list[tuple[str, int]]:
        """Up to ``limit`` keys (with the seq of the version that asked) whose expiry has
        come, soonest first: read from the expiry index, never held in memory."""
        db = sqlite3.connect(self.path, isolation_level=None, timeout=10)  # one per sweep
        try:
            rows = db.execute(
                "SELECT key, seq FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ? "
                "ORDER BY expires_at LIMIT ?",
                (now_ms, limit),
            )
            return [(key, seq) for key, seq in rows]
        finally:
            db.close()


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
