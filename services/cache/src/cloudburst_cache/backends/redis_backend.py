"""The Redis (or Valkey) backend: one server, or a Redis Cluster.

Layout (``P`` is the prefix, ``cb`` unless the URL says ``?prefix=``; ``K`` is the key with
``%``, ``{`` and ``}`` percent-escaped, so it is the hash tag and every Redis key of one
Cloudburst key lives in the same cluster slot):

- ``P:v:{K}``: a hash ``{v: encoded lattice, s: seq}``, the current value;
- ``P:h:{K}``: a list, the key's recent replaced states for snapshot reads (one server);
- ``P:f:{K}``: the seq of the newest state dropped from that history (one server);
- ``P:seq``: the global change counter, ``P:stats``: ``{keys, bytes}`` (one server);
- channel ``P:changes``: every change, published by the script that made it.

Every write is one Lua script, run atomically on the server: one per lattice type (see
``lua/``), loaded once at start with SCRIPT LOAD and called by SHA (reloaded on NOSCRIPT).
The script merges, numbers the change, keeps history and publishes, so writers in many
authority processes never lose an update and every process hears of every change.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Iterable
from importlib import resources
from typing import Any

import redis.asyncio
import structlog
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
)
from cloudburst_protocol.errors import (
    InvalidArgumentError,
    SnapshotExpiredError,
    UnavailableError,
)
from redis.asyncio.cluster import ClusterNode
from redis.exceptions import NoScriptError, RedisError, ResponseError

from cloudburst_cache.backends import (
    ChangeListener,
    LostListener,
    SnapshotUnsupportedError,
    StorageStats,
    StorageUrl,
    StoredVersion,
    UnsupportedLatticeError,
    Versioned,
)
from cloudburst_cache.store import HISTORY_S, HISTORY_VERSIONS, decode_write, drop_waiter
from cloudburst_cache.values import describe_type

log = structlog.get_logger("cloudburst.cache.redis")

TAGS: dict[int, type] = {
    1: LWW,
    2: SetLattice,
    3: OrderedSetLattice,
    4: MaxLattice,
    5: PriorityLattice,
    6: VectorClock,
    7: MapLattice,
    8: SingleKeyCausal,
    9: MultiKeyCausal,
}
UNSUPPORTED = (SingleKeyCausal, MultiKeyCausal)
MERGED_TAGS = (1, 2, 3, 4, 5, 6, 7)
FEED_START_TIMEOUT_S = 30.0
RECONNECT_MAX_S = 2.0
SCAN_COUNT = 1000


def _lua(name: str) -> str:
    return (resources.files("cloudburst_cache.backends") / "lua" / name).read_text("utf-8")


class _Script:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()


def _scripts() -> dict[str, _Script]:
    prelude = _lua("prelude.lua")
    scripts = {
        f"put_{tag}": _Script(f"{prelude}\nlocal TYPE_TAG = {tag}\n{_lua('put.lua')}")
        for tag in MERGED_TAGS
    }
    scripts["delete"] = _Script(f"{prelude}\n{_lua('delete.lua')}")
    scripts["get_as_of"] = _Script(f"{prelude}\n{_lua('get_as_of.lua')}")
    return scripts


def escape(key: str) -> str:
    """``key`` as a hash tag: no braces (so the tag is the whole key), reversible."""
    return key.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def unescape(tag: str) -> str:
    return tag.replace("%7D", "}").replace("%7B", "{").replace("%25", "%")


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def _check_supported(key: str, lattice: Lattice) -> None:
    if isinstance(lattice, UNSUPPORTED):
        raise UnsupportedLatticeError(
            f"the Redis storage backend does not store {type(lattice).__name__} values "
            f"(key {key!r}): causal lattices need the embedded store (CLOUDBURST_STORAGE_URL "
            "empty or memory://)"
        )
    if isinstance(lattice, MapLattice):
        for value in lattice.entries.values():
            _check_supported(key, value)


class RedisBackend:
    """See the module docstring. ``history_versions``/``history_s`` bound the versions kept
    for snapshot reads, as in :class:`~cloudburst_cache.store.LatticeStore`."""

    def __init__(
        self,
        target: StorageUrl,
        history_versions: int = HISTORY_VERSIONS,
        history_s: float = HISTORY_S,
    ) -> None:
        self.target = target
        self.cluster = target.kind == "cluster"
        self.mode = "cluster" if self.cluster else "single"
        self.history_versions = history_versions
        self.history_s = history_s
        self.prefix = target.prefix
        self.channel = f"{self.prefix}:changes"
        self._seq_key = f"{self.prefix}:seq"
        self._stats_key = f"{self.prefix}:stats"
        self._scripts = _scripts()
        self._client: Any = None
        self._listeners: dict[ChangeListener, LostListener] = {}
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._delivered = 0
        self._feed_up = asyncio.Event()
        self._feed_task: asyncio.Task[None] | None = None
        self._feed_error: BaseException | None = None

    @property
    def name(self) -> str:
        return self.target.describe()

    @property
    def delivered(self) -> int:
        # On a cluster there is no total order to be caught up with: 0 (no snapshots).
        return self._delivered

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            if self.cluster:
                seeds = [ClusterNode(host, port) for host, port in self.target.seeds]
                self._client = redis.asyncio.RedisCluster.from_url(
                    self.target.url, startup_nodes=seeds
                )
                await self._client.initialize()
            else:
                self._client = redis.asyncio.Redis.from_url(self.target.url)
            await self._client.ping()
            for script in self._scripts.values():
                sha = await self._client.script_load(script.source)
                if sha != script.sha:
                    raise UnavailableError(f"storage {self.name} answered SHA {sha!r}")
        except RedisError as exc:
            await self.close()
            raise UnavailableError(f"storage {self.name} cannot be reached: {exc}") from None
        self._feed_task = asyncio.create_task(self._feed())
        try:
            await asyncio.wait_for(self._feed_up.wait(), FEED_START_TIMEOUT_S)
        except TimeoutError:
            await self.close()
            raise UnavailableError(
                f"storage {self.name}: the change feed did not start ({self._feed_error})"
            ) from None
        log.info("storage on redis", url=self.name, mode=self.mode)

    async def close(self) -> None:
        if self._feed_task is not None:
            self._feed_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._feed_task
            self._feed_task = None
        if self._client is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._client.aclose()
            self._client = None

    # -- keys ---------------------------------------------------------------------------------

    def _value_key(self, key: str) -> str:
        return f"{self.prefix}:v:{{{escape(key)}}}"

    def _keys_of(self, key: str) -> list[str]:
        tag = escape(key)
        if self.cluster:
            return [f"{self.prefix}:v:{{{tag}}}"]
        return [
            f"{self.prefix}:v:{{{tag}}}",
            f"{self.prefix}:h:{{{tag}}}",
            f"{self.prefix}:f:{{{tag}}}",
            self._seq_key,
            self._stats_key,
        ]

    # -- reads and writes ---------------------------------------------------------------------

    async def _run(self, name: str, keys: list[str], args: list[str | bytes | int]) -> Any:
        script = self._scripts[name]
        try:
            return await self._client.evalsha(script.sha, len(keys), *keys, *args)
        except NoScriptError:  # the server lost its script cache (restart, failover)
            return await self._client.eval(script.source, len(keys), *keys, *args)

    async def get(self, keys: list[str]) -> list[Versioned | None]:
        try:
            if len(keys) == 1:
                replies = [await self._client.hmget(self._value_key(keys[0]), "v", "s")]
            else:
                async with self._client.pipeline(transaction=False) as pipe:
                    for key in keys:
                        pipe.hmget(self._value_key(key), "v", "s")
                    replies = await pipe.execute()
        except RedisError as exc:
            raise self._unavailable(exc) from None
        return [
            StoredVersion(int(seq), value) if value is not None else None for value, seq in replies
        ]

    async def get_as_of(self, key: str, seq: int) -> Versioned | None:
        if self.cluster:
            raise SnapshotUnsupportedError(
                "snapshot reads (consistency modes other than NORMAL) are not served by a "
                f"Redis Cluster storage ({self.name}): a cluster has no total order of "
                "changes across slots; use one Redis server or the embedded store"
            )
        keys = self._keys_of(key)[:3]
        try:
            reply = await self._run("get_as_of", keys, [self.mode, seq])
        except ResponseError as exc:
            if str(exc).startswith("CBEXPIRED"):
                raise SnapshotExpiredError(
                    f"the version of {key!r} at snapshot {seq} is no longer kept "
                    f"(versions are kept for {self.history_s:g} s, at most "
                    f"{self.history_versions})"
                ) from None
            raise
        except RedisError as exc:
            raise self._unavailable(exc) from None
        if not reply[0]:
            return None
        return StoredVersion(int(reply[2]), reply[1])

    async def put(self, key: str, encoded: bytes, expire_ms: int = 0) -> Versioned:
        incoming = decode_write(key, encoded)
        _check_supported(key, incoming)
        try:
            reply = await self._run(
                f"put_{encoded[1]}",
                self._keys_of(key),
                [
                    self.mode,
                    self.channel,
                    key,
                    encoded,
                    self.history_versions,
                    int(self.history_s * 1000),
                    max(0, int(expire_ms)),
                ],
            )
        except ResponseError as exc:
            raise self._merge_error(key, type(incoming), str(exc)) from None
        except RedisError as exc:
            raise self._unavailable(exc) from None
        return StoredVersion(int(reply[1]), reply[0])

    async def put_many(self, writes: list[tuple[str, bytes, int]]) -> list[Versioned]:
        return [await self.put(key, encoded, expire_ms) for key, encoded, expire_ms in writes]

    def _merge_error(self, key: str, incoming: type, message: str) -> Exception:
        words = message.split(" script: ", 1)[0].split()  # Redis appends where it failed
        if words and words[0] == "CBKIND":
            old = TAGS.get(int(words[1]), object)
            return InvalidArgumentError(
                f"key {key!r} holds {describe_type(old)}; {describe_type(incoming)} cannot "
                "be merged into it (delete the key first to change its kind)"
            )
        if words and words[0] == "CBNESTED":
            names = sorted(TAGS[int(words[i])].__name__ for i in (1, 2))
            map_key = bytes.fromhex(words[3][1:]).decode("utf-8")
            return InvalidArgumentError(
                f"the value for key {key!r} cannot be merged into what it holds: MapLattice "
                f"key {map_key!r} holds different lattice types: {names[0]} and {names[1]}"
            )
        if words and words[0] == "CBUNSUPPORTED":
            kind = TAGS.get(int(words[1]), object).__name__
            return UnsupportedLatticeError(
                f"the Redis storage backend does not store {kind} values (key {key!r})"
            )
        return UnavailableError(f"storage {self.name} failed a write of {key!r}: {message}")

    async def delete(self, key: str) -> bool:
        try:
            seq = await self._run(
                "delete",
                self._keys_of(key),
                [
                    self.mode,
                    self.channel,
                    key,
                    self.history_versions,
                    int(self.history_s * 1000),
                ],
            )
        except RedisError as exc:
            raise self._unavailable(exc) from None
        return bool(seq)

    async def expire_due(self) -> int:
        return 0  # Redis removes expired values itself (PEXPIRE in the put script)

    async def keys(self, prefix: str = "") -> list[str]:
        head = f"{self.prefix}:v:{{"
        match = f"{_glob_escape(head + escape(prefix))}*"
        found: set[str] = set()
        try:
            async for name in self._client.scan_iter(match=match, count=SCAN_COUNT):
                text = name.decode("utf-8")
                if text.startswith(head) and text.endswith("}"):
                    key = unescape(text[len(head) : -1])
                    if key.startswith(prefix):
                        found.add(key)
        except RedisError as exc:
            raise self._unavailable(exc) from None
        return sorted(found)

    async def watermark(self) -> int:
        if self.cluster:
            raise SnapshotUnsupportedError(
                "a Redis Cluster storage has no total order of changes, so it gives no "
                f"snapshot point ({self.name}): consistency modes other than NORMAL need "
                "one Redis server or the embedded store"
            )
        try:
            value = await self._client.get(self._seq_key)
        except RedisError as exc:
            raise self._unavailable(exc) from None
        return int(value or 0)

    async def stats(self) -> StorageStats:
        try:
            if not self.cluster:
                keys, size = await self._client.hmget(self._stats_key, "keys", "bytes")
                return StorageStats(keys=int(keys or 0), bytes=max(0, int(size or 0)))
            names = [
                name
                async for name in self._client.scan_iter(
                    match=f"{_glob_escape(self.prefix)}:v:*", count=SCAN_COUNT
                )
            ]
            total = 0
            for start in range(0, len(names), SCAN_COUNT):
                async with self._client.pipeline(transaction=False) as pipe:
                    for name in names[start : start + SCAN_COUNT]:
                        pipe.hstrlen(name, "v")
                    total += sum(await pipe.execute())
            return StorageStats(keys=len(names), bytes=total)
        except RedisError as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: BaseException) -> UnavailableError:
        return UnavailableError(f"storage {self.name} is unavailable: {exc}")

    # -- waiting for keys ---------------------------------------------------------------------

    async def wait_for(self, keys: Iterable[str], timeout: float) -> None:
        loop = asyncio.get_running_loop()
        waiting: dict[str, asyncio.Future[None]] = {}
        for key in dict.fromkeys(keys):
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.setdefault(key, []).append(waiter)
            waiting[key] = waiter
        try:
            # Registered first, checked second: a write after the check is published after
            # it, and the feed wakes the waiter.
            present = await self._exist(list(waiting))
            for key, exists in zip(list(waiting), present, strict=True):
                if exists:
                    waiting.pop(key).cancel()
            if waiting:
                await asyncio.wait(list(waiting.values()), timeout=timeout)
        finally:
            for key, waiter in waiting.items():
                drop_waiter(self._waiters, key, waiter)

    async def _exist(self, keys: list[str]) -> list[bool]:
        if not keys:
            return []
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.exists(self._value_key(key))
                return [bool(n) for n in await pipe.execute()]
        except RedisError as exc:
            raise self._unavailable(exc) from None

    def _wake(self, key: str) -> None:
        for waiter in self._waiters.pop(key, ()):
            if not waiter.done():
                waiter.set_result(None)

    # -- the change feed ----------------------------------------------------------------------

    def add_listener(self, on_change: ChangeListener, on_lost: LostListener) -> None:
        if not self._feed_up.is_set():
            raise UnavailableError(f"storage {self.name}: the change feed is down")
        self._listeners[on_change] = on_lost

    def remove_listener(self, on_change: ChangeListener) -> None:
        self._listeners.pop(on_change, None)

    def _pubsub_clients(self) -> list[Any]:
        """Where to subscribe. A cluster forwards every PUBLISH to all its nodes, so any
        node will do: each is tried in turn."""
        if not self.cluster:
            return [self._client]
        return [
            redis.asyncio.Redis(
                host=node.host,
                port=node.port,
                ssl=self.target.tls,
                **_auth(self._client),
            )
            for node in self._client.get_nodes()
        ]

    async def _feed(self) -> None:
        backoff = 0.05
        attempt = 0
        while True:
            clients = self._pubsub_clients()
            client = clients[attempt % len(clients)]
            attempt += 1
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        # The first confirmation, or one after redis-py reconnected silently
                        # (changes in between are lost).
                        if self._feed_up.is_set():
                            self._lose("the change feed reconnected")
                        await self._caught_up()
                        backoff = 0.05
                    elif message["type"] == "message":
                        self._dispatch(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._feed_error = exc
                if self._feed_up.is_set():
                    self._lose(f"the change feed broke: {exc}")
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
                if self.cluster:
                    for other in clients:
                        with contextlib.suppress(RedisError, OSError):
                            await other.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RECONNECT_MAX_S)

    async def _caught_up(self) -> None:
        """Subscribed: every change from now on arrives. Earlier ones are in the store."""
        if not self.cluster:
            self._delivered = max(self._delivered, int(await self._client.get(self._seq_key) or 0))
        if self._waiters:  # writes made while the feed was down woke no one
            waited = list(self._waiters)
            for key, exists in zip(waited, await self._exist(waited), strict=True):
                if exists:
                    self._wake(key)
        self._feed_up.set()

    def _lose(self, why: str) -> None:
        log.warning("storage change feed lost: subscribers resync", url=self.name, why=why)
        self._feed_up.clear()
        listeners = list(self._listeners.values())
        self._listeners.clear()
        for on_lost in listeners:
            on_lost()

    def _dispatch(self, data: bytes) -> None:
        seq_text, rest = data.split(b":", 1)
        length_text, rest = rest.split(b":", 1)
        length = int(length_text)
        key = rest[:length].decode("utf-8")
        seq = int(seq_text)
        version = (
            StoredVersion(seq, rest[length + 1 :]) if rest[length : length + 1] == b"v" else None
        )
        if not self.cluster and seq > self._delivered:
            self._delivered = seq
        if version is not None:
            self._wake(key)
        for on_change in list(self._listeners):
            on_change(key, version)


def _auth(client: Any) -> dict[str, Any]:
    kwargs = client.connection_kwargs if hasattr(client, "connection_kwargs") else {}
    return {k: kwargs[k] for k in ("username", "password") if kwargs.get(k)}
