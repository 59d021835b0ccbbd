"""Large values between processes of one host, through shared memory instead of gRPC.

Python gRPC moves about 300 MB/s on the 2-core reference machine: an 8 MB value cost about
28 ms per hop, and a first read crosses two hops (storage authority -> node cache ->
executor). Processes that share a *bulk directory* (a tmpfs, ``/dev/shm`` by default) hand
such values over as files instead: the sender writes (or hard-links) the value into a new
file and sends its name; the receiver maps the file and removes the name. Writing 8 MB to
tmpfs costs about 2 ms, linking a file a sender already holds a few microseconds, and
mapping it nothing until the pages are read.

A reader says which directory it sees by its **id** (a random token stored in the directory
itself): senders use files only when their own directory has the same id, so processes in
separate containers, or with the feature off, fall back to sending bytes. Configure with
``CLOUDBURST_BULK_DIR`` (``off`` disables it).

File names: ``t-*`` are transfers (owned by whoever receives them; swept after
``STALE_TRANSFER_S`` if a receiver died first), ``k-<pid>-*`` are files a process keeps
(swept when that process is gone).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import secrets
import time
import weakref
from pathlib import Path

from cloudburst_protocol.config import BULK_DIR_ENV
from cloudburst_protocol.runtime import process_exists

Data = bytes | memoryview | mmap.mmap
MIN_BYTES = 1024 * 1024
"""Values at least this large travel as files when both sides share the directory."""
STALE_TRANSFER_S = 60.0


class BulkDir:
    """One process's view of the host's bulk directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.id = _read_or_create_id(path)

    @classmethod
    def from_env(cls) -> BulkDir | None:
        """The configured directory, or ``None`` when the feature is off or unusable."""
        raw = os.environ.get(BULK_DIR_ENV, "").strip()
        if raw.lower() in ("off", "0", "false", "none"):
            return None
        if raw:
            path = Path(raw)
        elif Path("/dev/shm").is_dir():
            path = Path("/dev/shm") / f"cloudburst-{os.getuid()}"
        else:
            return None
        try:
            return cls(path)
        except OSError:
            return None

    def shares(self, reader_id: str) -> bool:
        """Whether a reader that sees directory ``reader_id`` can open our files."""
        return bool(reader_id) and reader_id == self.id

    # -- sending ----------------------------------------------------------------------------

    def write(self, data: Data) -> str:
        """A new transfer file holding ``data``; returns its name (the receiver owns it)."""
        name = f"t-{secrets.token_hex(12)}"
        self._write(self.path / name, data)
        return name

    def keep(self, data: Data) -> str:
        """A file this process keeps (to :meth:`lend` many times); returns its name."""
        name = f"k-{os.getpid()}-{secrets.token_hex(12)}"
        self._write(self.path / name, data)
        return name

    def lend(self, kept: str) -> str:
        """A transfer of a kept file (a hard link: no copy); the receiver owns the link."""
        name = f"t-{secrets.token_hex(12)}"
        os.link(self.path / kept, self.path / name)
        return name

    def release(self, kept: str) -> None:
        """Removes a kept file's name (mappings of it stay valid until dropped)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path / kept)

    def discard(self, name: str) -> None:
        """Removes a transfer nobody took (its receiver refused it)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._own(name))

    # -- receiving --------------------------------------------------------------------------

    def take(self, name: str) -> Mapped:
        """Maps a transfer file read-only and removes its name; the mapping is the value."""
        path = self._own(name)
        fd = os.open(path, os.O_RDONLY)
        try:
            os.unlink(path)
            return Mapped.of(fd)
        except BaseException:
            os.close(fd)
            raise

    def adopt(self, name: str, populate: bool = False) -> tuple[mmap.mmap, str]:
        """Takes a transfer file and keeps it (renamed as this process's): the mapping and
        the kept name, to :meth:`lend` to readers later. ``populate`` when the whole value
        is about to be read (mapping every page at once is cheaper than a fault per page)."""
        kept = f"k-{os.getpid()}-{secrets.token_hex(12)}"
        os.rename(self._own(name), self.path / kept)
        return _map(self.path / kept, populate=populate), kept

    def sweep(self) -> int:
        """Removes transfers older than ``STALE_TRANSFER_S`` and files kept by processes that
        are gone; returns how many."""
        removed = 0
        now = time.time()
        for entry in os.scandir(self.path):
            name = entry.name
            try:
                if name.startswith("t-"):
                    stale = now - entry.stat().st_mtime > STALE_TRANSFER_S
                elif name.startswith("k-"):
                    stale = not process_exists(int(name.split("-")[1]))
                else:
                    continue
                if stale:
                    os.unlink(entry.path)
                    removed += 1
            except (OSError, ValueError, IndexError):
                continue
        return removed

    def _own(self, name: str) -> Path:
        if not name.startswith("t-") or "/" in name or name in (".", ".."):
            raise ValueError(f"not a bulk transfer name: {name!r}")
        return self.path / name

    @staticmethod
    def _write(path: Path, data: Data) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            raise
        os.close(fd)


class Mapped(mmap.mmap):
    """A taken bulk value: a read-only mapping that also hands out private copies.

    :meth:`private` maps the same file again copy-on-write: readers get a writable buffer
    without copying anything up front — the kernel copies a page only if it is written — so
    a large array is decoded straight from shared memory and is still the reader's own."""

    fd: int

    @classmethod
    def of(cls, fd: int) -> Mapped:
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        mapped = cls(fd, 0, flags=flags, prot=mmap.PROT_READ)
        mapped.fd = fd
        weakref.finalize(mapped, os.close, fd)
        return mapped

    def private(self) -> mmap.mmap:
        # Not populated: pre-faulting a private writable mapping would copy every page.
        return mmap.mmap(self.fd, 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)


def _map(path: Path, populate: bool = True) -> mmap.mmap:
    """A read-only mapping; ``populate`` maps every page now (for values read at once)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        flags = mmap.MAP_SHARED | (getattr(mmap, "MAP_POPULATE", 0) if populate else 0)
        return mmap.mmap(fd, 0, flags=flags, prot=mmap.PROT_READ)
    finally:
        os.close(fd)


def _read_or_create_id(path: Path) -> str:
    id_file = path / "id"
    try:
        return id_file.read_text().strip()
    except FileNotFoundError:
        pass
    draft = path / f"id-{os.getpid()}-{secrets.token_hex(4)}"
    draft.write_text(secrets.token_hex(16))
    try:
        os.link(draft, id_file)  # atomic: the first process to link wins
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return id_file.read_text().strip()


__all__ = ["BULK_DIR_ENV", "MIN_BYTES", "BulkDir", "Data", "Mapped"]
