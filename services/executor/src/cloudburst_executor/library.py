"""The user library: the first argument of every function.

Documented names: ``get_object``, ``put_object``, ``get_id``, ``send``, ``recv``; the older
names ``get``, ``put`` and ``getid`` are accepted too. ``get`` of a list of keys returns a dict
with ``None`` for missing keys.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Any

import grpc
from cloudburst_protocol import values
from cloudburst_protocol.bulk import BulkDir
from cloudburst_protocol.clock import HybridClock
from cloudburst_protocol.errors import InvalidArgumentError, KeyNotFoundError
from cloudburst_protocol.gen import cache_pb2, cache_pb2_grpc
from cloudburst_protocol.grpc_errors import error_from_rpc
from cloudburst_protocol.keys import check_user_key
from opentelemetry import trace

from cloudburst_executor.snapshot import merge_lattices, overlay
from cloudburst_executor.values_cache import ValueCache, inline, take_bulk

STORE_TIMEOUT_S = 30.0


class Inbox:
    """Messages sent to this executor with ``send``; ``recv`` drains them. Thread-safe."""

    def __init__(self) -> None:
        self._messages: collections.deque[tuple[str, bytes]] = collections.deque()
        self._lock = threading.Lock()

    def push(self, sender: str, body: bytes) -> None:
        with self._lock:
            self._messages.append((sender, body))

    def drain(self) -> list[tuple[str, bytes]]:
        with self._lock:
            messages = list(self._messages)
            self._messages.clear()
        return messages


class UserLibrary:
    """What a running function can do: read and write the store, message other executors."""

    def __init__(
        self,
        cache: cache_pb2_grpc.CacheStub,
        local: ValueCache,
        clock: HybridClock,
        messaging_id: str,
        inbox: Inbox,
        send: Callable[[str, bytes], None],
        bulk: BulkDir | None = None,
    ) -> None:
        self._cache = cache
        self._bulk = bulk
        self._local = local
        self._clock = clock
        self._id = messaging_id
        self._inbox = inbox
        self._send = send
        self._writer = values.Writer(clock)
        # Keys read during the current call (the executor reports them for placement).
        self.reads: set[str] = set()
        # Snapshot modes: the call's snapshot and its writes so far (see snapshot.py).
        self.snapshot = 0
        self.writes: dict[str, bytes] = {}

    def get_object(self, key: str) -> Any:
        """The value stored at ``key``; raises ``KeyNotFoundError`` if there is none."""
        found = self._fetch([key])
        if key not in found:
            raise KeyNotFoundError(f"key {key!r} is not in the store")
        return found[key]

    def get(self, key: str | list[str]) -> Any:
        """Older name. A list of keys returns a dict (missing keys map to ``None``); a single
        missing key returns ``None``."""
        if isinstance(key, list):
            found = self._fetch(key)
            return {k: found.get(k) for k in key}
        return self._fetch([key]).get(key)

    def put_object(self, key: str, value: Any) -> bool:
        """Stores ``value`` at ``key``: last writer wins, a ``set`` merges by union, and
        ``Max``/``Counter``/``Priority`` merge as their names say."""
        check_user_key(key)
        lattice = self._writer.wrap(key, value)
        try:
            self._cache.Put(
                cache_pb2.CachePutRequest(entries=[cache_pb2.KeyLattice(key=key, lattice=lattice)]),
                timeout=STORE_TIMEOUT_S,
                wait_for_ready=True,  # the node cache may be restarting: wait, bounded
            )
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, "cache") from None
        if self.snapshot:
            self.writes[key] = merge_lattices(self.writes.get(key), lattice)
        return True

    put = put_object

    def begin_call(self, snapshot: int, writes: dict[str, bytes]) -> None:
        """Sets the read view of the call about to run (snapshot 0: latest values)."""
        self.snapshot = snapshot
        self.writes = writes
        self.reads.clear()

    def get_id(self) -> str:
        """This executor's messaging id (for ``send``)."""
        return self._id

    getid = get_id

    def send(self, recipient: str, message: bytes) -> None:
        """Sends ``message`` (bytes) to the executor whose messaging id is ``recipient``."""
        if not isinstance(message, bytes | bytearray):
            raise InvalidArgumentError("send takes bytes; serialize the message first")
        self._send(recipient, bytes(message))

    def recv(self) -> list[tuple[str, bytes]]:
        """Messages received since the last call, as ``(sender, bytes)`` pairs."""
        return self._inbox.drain()

    def _fetch(self, keys: list[str]) -> dict[str, Any]:
        for key in keys:
            check_user_key(key)
        request = cache_pb2.CacheGetRequest(
            keys=keys, as_of=self.snapshot, known=self._local.known(keys)
        )
        if self._bulk is not None and not self.snapshot:
            request.bulk_id = self._bulk.id  # large values may come as files
        try:
            reply = self._cache.Get(request, timeout=STORE_TIMEOUT_S, wait_for_ready=True)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, "cache") from None
        stored = self._local.absorb(reply, take_bulk(self._bulk, reply))
        if self.snapshot:
            stored = dict(overlay(inline(stored), keys, self.writes))
        found = {key: values.unwrap(lattice) for key, lattice in stored.items()}
        self.reads.update(keys)
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event(
                "cloudburst.get",
                {
                    "keys": keys,
                    "cloudburst.cache.misses": list(reply.misses),
                    "cloudburst.absent": [k for k in keys if k not in found],
                },
            )
        return found
