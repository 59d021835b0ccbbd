"""Storage backends of the authority: where the lattices live.

The authority (:mod:`cloudburst_cache.authority`) serves the ``Cache`` gRPC service over one
:class:`StorageBackend`, chosen by ``CLOUDBURST_STORAGE_URL`` (see :func:`open_backend`):

- ``memory://`` (or empty): the embedded :class:`~cloudburst_cache.store.LatticeStore`;
- ``redis://host:port/db``: one Redis (or Valkey) server;
- ``redis+cluster://host:port[,host:port...]``: a Redis Cluster (``rediss``: TLS).

Every backend merges on write (concurrent writers never lose an update), numbers each
change with a sequence number, keeps recent versions for snapshot reads where it can, and
tells its listeners of every change made through any authority process that shares it.
See ``docs/storage.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from cloudburst_protocol.errors import InvalidArgumentError

__all__ = [
    "ChangeListener",
    "LostListener",
    "SnapshotUnsupportedError",
    "StorageBackend",
    "StorageStats",
    "StorageUrl",
    "UnsupportedLatticeError",
    "Versioned",
    "open_backend",
    "parse_storage_url",
]


class Versioned(Protocol):
    """A key's value after one change: its sequence number and the encoded lattice."""

    @property
    def seq(self) -> int: ...

    @property
    def encoded(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class StoredVersion:
    seq: int
    encoded: bytes


@dataclass(frozen=True, slots=True)
class StorageStats:
    keys: int
    bytes: int


ChangeListener = Callable[[str, "Versioned | None"], None]
"""Told of every change, in sequence order: the key and its new version (``None``: deleted).
When it is called, :attr:`StorageBackend.delivered` already covers the change."""

LostListener = Callable[[], None]
"""Told when the change feed broke: changes may have been missed, so everything derived from
it (a node cache's copies) must be dropped and fetched again."""


class UnsupportedLatticeError(InvalidArgumentError):
    """The storage backend cannot merge this lattice type (e.g. causal types on Redis)."""


class SnapshotUnsupportedError(InvalidArgumentError):
    """The storage backend cannot serve snapshot reads (a Redis Cluster)."""


class StorageBackend(Protocol):
    """What the authority needs from storage. All reads and writes are async."""

    @property
    def name(self) -> str:
        """A short description for logs and errors (``memory``, ``redis://h:p/0``...)."""
        ...

    @property
    def delivered(self) -> int:
        """Every change up to this sequence number has been told to the listeners."""
        ...

    async def start(self) -> None:
        """Connects and starts the change feed; returns once changes are being delivered."""

    async def close(self) -> None: ...

    async def get(self, keys: list[str]) -> list[Versioned | None]:
        """The current version of each key (``None``: absent), in order."""
        ...

    async def get_as_of(self, key: str, seq: int) -> Versioned | None:
        """The version a snapshot at ``seq`` sees (``None``: the key did not exist then).

        Raises :class:`~cloudburst_protocol.errors.SnapshotExpiredError` when that version
        is no longer kept and :class:`SnapshotUnsupportedError` where snapshots are not
        served at all."""
        ...

    async def put(self, key: str, encoded: bytes, expire_ms: int = 0) -> Versioned:
        """Merges an encoded lattice into ``key``; returns the merged version (the current
        one, with its old seq, when the write changed nothing). A new version with
        ``expire_ms`` is deleted that many milliseconds later unless written again; the
        expiry is kept by the storage itself (it survives a restart of the authority)."""
        ...

    async def put_many(self, writes: list[tuple[str, bytes, int]]) -> list[Versioned]:
        """:meth:`put` of each ``(key, encoded, expire_ms)`` in order; a storage that
        commits to disk acknowledges them with one commit."""
        ...

    async def expire_due(self) -> int:
        """Deletes the values whose expiry has come (where the engine does not do it
        itself); how many. Called every second, each call bounded."""
        ...

    async def delete(self, key: str) -> bool: ...

    async def keys(self, prefix: str = "") -> list[str]:
        """The existing keys starting with ``prefix``, sorted."""
        ...

    async def wait_for(self, keys: Iterable[str], timeout: float) -> None:
        """Returns once every key exists or ``timeout`` seconds have passed (woken by the
        change feed, never by polling)."""

    async def watermark(self) -> int:
        """The newest sequence number whose change is stored: reads as of it form a
        consistent snapshot that includes every acknowledged write."""
        ...

    def add_listener(self, on_change: ChangeListener, on_lost: LostListener) -> None: ...

    def remove_listener(self, on_change: ChangeListener) -> None: ...

    async def stats(self) -> StorageStats: ...


# -- the URL setting --------------------------------------------------------------------------

SCHEMES = ("memory", "redis", "rediss", "redis+cluster", "rediss+cluster")
DEFAULT_PREFIX = "cb"


@dataclass(frozen=True, slots=True)
class StorageUrl:
    """A parsed ``CLOUDBURST_STORAGE_URL``."""

    kind: str  # "memory", "redis" or "cluster"
    url: str  # for redis-py: the URL (of the first seed) without our own query parameters
    prefix: str  # every Redis key and the change channel start with "<prefix>:"
    tls: bool = False
    # A cluster's seed nodes, in the order given: the client tries each until one answers.
    seeds: tuple[tuple[str, int], ...] = ()

    def describe(self) -> str:
        if self.kind == "memory":
            return "memory"
        shown = _without_password(self.url)
        if len(self.seeds) > 1:
            scheme, _, rest = shown.partition("://")
            tail = rest[rest.find("/") :] if "/" in rest else ""
            listed = ",".join(
                f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in self.seeds
            )
            shown = f"{scheme}+cluster://{listed}{tail}"
        return shown


def parse_storage_url(url: str) -> StorageUrl:
    """Validates the setting; raises ``ValueError`` naming what is wrong."""
    url = url.strip()
    if not url or url in ("memory", "memory://"):
        return StorageUrl("memory", "", DEFAULT_PREFIX)
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES or scheme == "memory":
        raise ValueError(
            f"CLOUDBURST_STORAGE_URL {url!r}: expected memory://, redis://host:port/db, "
            "rediss://..., redis+cluster://host:port[,host:port...] or rediss+cluster://..."
        )
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    prefix = query.pop("prefix", [DEFAULT_PREFIX])[-1]
    if not prefix or any(c in prefix for c in "{}*?[]\\"):
        raise ValueError(
            f"CLOUDBURST_STORAGE_URL: prefix {prefix!r} must be non-empty, no {{}}*?[]\\"
        )
    base = scheme.removesuffix("+cluster")
    kept = "&".join(f"{k}={v}" for k, values in query.items() for v in values)
    netloc_and_path = rest.split("?", 1)[0]
    kind = "cluster" if scheme.endswith("+cluster") else "redis"
    netloc, slash, path = netloc_and_path.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    seeds = tuple(_host_port(url, host) for host in hosts.split(","))
    if len(seeds) > 1 and kind != "cluster":
        raise ValueError(
            f"CLOUDBURST_STORAGE_URL {url!r}: several hosts need redis+cluster:// (seed nodes)"
        )
    first = f"[{seeds[0][0]}]" if ":" in seeds[0][0] else seeds[0][0]
    netloc_and_path = f"{userinfo}{at}{first}:{seeds[0][1]}{slash}{path}"
    clean = f"{base}://{netloc_and_path}" + (f"?{kept}" if kept else "")
    return StorageUrl(kind, clean, prefix, tls=base == "rediss", seeds=seeds)


def _host_port(url: str, text: str) -> tuple[str, int]:
    """One ``host[:port]`` of the URL (port 6379 if none), or ``ValueError`` naming it."""
    try:
        parts = urlsplit(f"//{text.strip()}")
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
        if text.strip():
            raise ValueError(
                f"CLOUDBURST_STORAGE_URL {url!r}: {text.strip()!r} is not host:port"
            ) from None
    if not host:
        raise ValueError(f"CLOUDBURST_STORAGE_URL {url!r} names no host")
    return host, port or 6379


def _without_password(url: str) -> str:
    scheme, _, rest = url.partition("://")
    if "@" in rest.split("/", 1)[0]:
        rest = rest.split("@", 1)[1]
    return f"{scheme}://{rest}"


def open_backend(
    url: str, data_dir: Path | None = None, fsync: str = "off", history_s: float | None = None
) -> StorageBackend:
    """The backend a ``CLOUDBURST_STORAGE_URL`` names (not started). The embedded store
    persists in ``data_dir`` unless ``fsync`` is ``off`` (see docs/storage.md); replaced
    versions stay readable by snapshots for ``history_s`` seconds (default 60)."""
    target = parse_storage_url(url)
    # Imported here: the backends import this module, and memory mode needs no redis.
    from cloudburst_cache.store import HISTORY_S, LatticeStore  # noqa: PLC0415 (cycle)

    keep = HISTORY_S if history_s is None else history_s
    if target.kind == "memory":
        from cloudburst_cache.backends.memory import MemoryBackend  # noqa: PLC0415
        from cloudburst_cache.persistence import DiskLog  # noqa: PLC0415

        disk = None if fsync == "off" or data_dir is None else DiskLog(data_dir, fsync)
        return MemoryBackend(LatticeStore(history_s=keep), disk=disk)
    from cloudburst_cache.backends.redis_backend import RedisBackend  # noqa: PLC0415

    return RedisBackend(target, history_s=keep)
