"""The scheduler service: registration, placement, call tracking, and the executors' attach
streams. Handlers are thin; decisions live in :mod:`.dags` and :mod:`.placement`."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
import grpc.aio
import structlog
from cloudburst_protocol import config, serializer, tracing, values
from cloudburst_protocol.auth import service_credentials
from cloudburst_protocol.bulk import BulkDir
from cloudburst_protocol.channels import aio_channel
from cloudburst_protocol.clock import HybridClock
from cloudburst_protocol.errors import (
    CallTimeoutError,
    CloudburstError,
    DagNotFoundError,
    ExecutorDiedError,
    FunctionNotFoundError,
    InvalidArgumentError,
    NoResourcesError,
    to_remote_error,
)
from cloudburst_protocol.gen import (
    cache_pb2,
    cache_pb2_grpc,
    common_pb2,
    executor_pb2,
    scheduler_pb2,
    scheduler_pb2_grpc,
)
from cloudburst_protocol.grpc_errors import error_from_rpc
from cloudburst_protocol.keys import (
    DAG_KEY,
    FN_BODY,
    FN_NAME,
    RESERVED_PREFIX,
    check_name,
    check_user_key,
)
from cloudburst_protocol.runtime import listen, new_server, run_until_stopped, set_serving
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from cloudburst_scheduler.dags import DagShape, check_deletable, single_function, validate_dag
from cloudburst_scheduler.placement import ExecutorView, Locality, Placement
from cloudburst_scheduler.quarantine import Quarantine
from cloudburst_scheduler.settings import SchedulerSettings

log = structlog.get_logger("cloudburst.scheduler")
_tracer = tracing.tracer("cloudburst.scheduler")

HELLO_TIMEOUT_S = 5.0
REGISTRY_ACK_TIMEOUT_S = 5.0
LEASE_TTL_MS = 5_000
BUSY_GRACE_S = 60.0
CALL_STATE_WAIT_MS = 300
"""How long CallState waits for a result that may be on its way to the store (written
within about 10 ms of a call ending) before it calls an id unknown."""
FLUSH_TIMEOUT_S = 5.0
IDEMPOTENT_RETRIES = 3
"""How often a call of idempotent functions is placed again after its executor died."""


@dataclass(frozen=True, slots=True)
class FunctionEntry:
    digest: str
    kind: int
    # Registered idempotent=True: a call is placed again after its executor died.
    idempotent: bool = False


@dataclass(eq=False)
class ExecutorHandle:
    executor_id: str
    address: str
    node_id: str
    pid: int
    # Messages for the attach stream; a future is set once everything before it is written.
    outbox: asyncio.Queue[scheduler_pb2.SchedulerMessage | asyncio.Future[None]] = field(
        default_factory=asyncio.Queue
    )
    # Calls sent to this executor that it has not answered yet (even if the caller gave up:
    # the executor is still busy with them).
    running: set[str] = field(default_factory=set)
    # It runs a call past its deadline (its LoadReport says so): placement skips it.
    overdue: bool = False
    # It has acknowledged the registry snapshot, so it can check leases: until then it is
    # left out of placement (a call sent to it would be refused as stale).
    ready: bool = False

    @property
    def available(self) -> bool:
        return self.ready and not self.overdue

    @property
    def in_flight(self) -> int:
        return len(self.running)


@dataclass(eq=False)
class PendingCall:
    future: asyncio.Future[common_pb2.Outcome]
    executors: frozenset[str]
    # Calls of idempotent functions only: places and sends the call again.
    retry: Callable[[], Awaitable[None]] | None = None
    retries: int = 0


Record = scheduler_pb2.FunctionRecord | scheduler_pb2.DagRecord
RecordT = TypeVar("RecordT", scheduler_pb2.FunctionRecord, scheduler_pb2.DagRecord)


def _record(kind: type[RecordT], key: str, lattice: bytes | None) -> RecordT | None:
    """A registry record read from the store, or ``None`` if absent, deleted, or not a
    record at all (logged: only the cluster's services can write these keys, so that is a
    bug or tampering, and it must neither crash the scheduler nor run anything)."""
    if lattice is None:
        return None
    try:
        record = kind.FromString(values.unwrap_encoded(lattice))
    except Exception as exc:  # a record of the wrong shape is skipped, never trusted
        log.warning("skipping a malformed registry record", key=key, error=repr(exc)[:200])
        return None
    return None if record.deleted else record


def _shape(name: str, record: scheduler_pb2.DagRecord) -> DagShape:
    return validate_dag(
        name, list(record.functions), [(e.source, e.target) for e in record.connections]
    )


class Metadata:
    """Functions and DAGs, cached in memory and kept in the store (the source of truth, so
    several schedulers and restarts agree)."""

    def __init__(self, cache: cache_pb2_grpc.CacheStub, clock: HybridClock) -> None:
        self._cache = cache
        self._clock = clock
        self.functions: dict[str, FunctionEntry] = {}
        self.dags: dict[str, DagShape] = {}

    async def _get(self, key: str) -> bytes | None:
        reply = await self._cache.Get(cache_pb2.CacheGetRequest(keys=[key]), timeout=10)
        return reply.entries[0].lattice if reply.entries else None

    async def _put(self, key: str, record: Record) -> None:
        lattice = values.wrap_encoded(record.SerializeToString(), self._clock)
        await self._cache.Put(
            cache_pb2.CachePutRequest(entries=[cache_pb2.KeyLattice(key=key, lattice=lattice)]),
            timeout=10,
        )

    async def watermark(self) -> int:
        reply = await self._cache.Watermark(common_pb2.Empty(), timeout=10)
        return int(reply.seq)

    async def store_error(self, call_id: str, error: common_pb2.RemoteError) -> None:
        await self.store_result(call_id, serializer.dump_error(error))

    async def store_result(self, call_id: str, encoded: bytes) -> None:
        """Stores a call's encoded result (or error) under its id, to expire like results."""
        lattice = values.wrap_encoded(encoded, self._clock)
        try:
            await self._cache.Put(
                cache_pb2.CachePutRequest(
                    entries=[
                        cache_pb2.KeyLattice(
                            key=call_id,
                            lattice=lattice,
                            expire_ms=int(config.result_ttl_s() * 1000),
                        )
                    ]
                ),
                timeout=10,
            )
        except grpc.RpcError as exc:
            log.error("storing a call's outcome failed", call_id=call_id, error=str(exc)[:200])

    async def register_function(
        self, name: str, body: bytes, kind: int, idempotent: bool = False
    ) -> str:
        check_name("function", name)
        if not body:
            raise InvalidArgumentError(f"function {name!r} has an empty body")
        stored = bytes([kind]) + body  # the executor reads the kind from the first byte
        digest = hashlib.sha256(stored).hexdigest()[:32]
        await self._cache.Put(
            cache_pb2.CachePutRequest(
                entries=[
                    cache_pb2.KeyLattice(
                        key=FN_BODY + digest,
                        lattice=values.wrap_encoded(stored, self._clock),
                    )
                ]
            ),
            timeout=10,
        )
        record = scheduler_pb2.FunctionRecord(
            digest=digest,
            kind=kind,  # type: ignore[arg-type]  # a FunctionKind value
            idempotent=idempotent,
        )
        await self._put(FN_NAME + name, record)
        self.functions[name] = FunctionEntry(digest, kind, idempotent)
        return digest

    async def function(self, name: str) -> FunctionEntry:
        entry = self.functions.get(name)
        if entry is None:
            stored = await self._get(FN_NAME + name)
            record = _record(scheduler_pb2.FunctionRecord, FN_NAME + name, stored)
            if record is None:
                raise FunctionNotFoundError(f"function {name!r} is not registered")
            entry = self.functions[name] = FunctionEntry(
                record.digest, record.kind, record.idempotent
            )
        return entry

    async def delete_function(self, name: str, force: bool = False) -> None:
        await self.function(name)
        dags = {
            dag: list(record.functions)
            for dag, record in (await self._records(DAG_KEY, scheduler_pb2.DagRecord)).items()
        }
        check_deletable(name, dags, force)
        await self._put(FN_NAME + name, scheduler_pb2.FunctionRecord(deleted=True))
        self.functions.pop(name, None)

    async def _records(
        self, namespace: str, kind: type[RecordT], prefix: str = ""
    ) -> dict[str, RecordT]:
        """The live records under ``namespace`` whose names start with ``prefix``, by name
        (deleted records, and records that do not decode, are left out)."""
        reply = await self._cache.ListKeys(
            cache_pb2.ListKeysRequest(prefix=namespace + prefix), timeout=10
        )
        if not reply.keys:
            return {}
        stored = await self._cache.Get(cache_pb2.CacheGetRequest(keys=reply.keys), timeout=10)
        records = {e.key[len(namespace) :]: _record(kind, e.key, e.lattice) for e in stored.entries}
        return {name: record for name, record in records.items() if record is not None}

    async def function_names(self, prefix: str) -> list[str]:
        return sorted(await self._records(FN_NAME, scheduler_pb2.FunctionRecord, prefix))

    async def register_dag(
        self, name: str, functions: list[str], connections: list[tuple[str, str]]
    ) -> bool:
        registered = set()
        for fn in dict.fromkeys(functions):
            with contextlib.suppress(FunctionNotFoundError):
                await self.function(fn)
                registered.add(fn)
        shape = validate_dag(name, functions, connections, registered)
        previous = await self._get(DAG_KEY + name)
        replaced = name in self.dags or (
            _record(scheduler_pb2.DagRecord, DAG_KEY + name, previous) is not None
        )
        record = scheduler_pb2.DagRecord(
            functions=shape.functions,
            connections=[scheduler_pb2.Edge(source=s, target=t) for s, t in shape.connections],
        )
        await self._put(DAG_KEY + name, record)
        self.dags[name] = shape
        return replaced

    async def dag(self, name: str) -> DagShape:
        shape = self.dags.get(name)
        if shape is None:
            stored = await self._get(DAG_KEY + name)
            record = _record(scheduler_pb2.DagRecord, DAG_KEY + name, stored)
            if record is None:
                raise DagNotFoundError(f"DAG {name!r} is not registered")
            shape = self.dags[name] = _shape(name, record)
        return shape

    async def delete_dag(self, name: str) -> None:
        await self.dag(name)
        await self._put(DAG_KEY + name, scheduler_pb2.DagRecord(deleted=True))
        self.dags.pop(name, None)

    async def snapshot(self) -> tuple[dict[str, str], dict[str, str]]:
        """Every registered function's digest and DAG's version, read from the store."""
        functions = {
            name: record.digest
            for name, record in (await self._records(FN_NAME, scheduler_pb2.FunctionRecord)).items()
        }
        dags: dict[str, str] = {}
        for name, record in (await self._records(DAG_KEY, scheduler_pb2.DagRecord)).items():
            try:
                dags[name] = _shape(name, record).version
            except CloudburstError as exc:
                log.warning("skipping an invalid DAG record", dag=name, error=str(exc)[:200])
        # The store is the source of truth: what is cached here but no longer stored (a
        # storage that restarted without its data: CLOUDBURST_FSYNC=off) is dropped, so
        # leases agree with what executors are told instead of being refused as stale
        # forever; a call then says the function is not registered.
        self.functions = {n: e for n, e in self.functions.items() if functions.get(n) == e.digest}
        self.dags = {n: s for n, s in self.dags.items() if dags.get(n) == s.version}
        return functions, dags

    async def dag_names(self, prefix: str) -> list[str]:
        return sorted(await self._records(DAG_KEY, scheduler_pb2.DagRecord, prefix))


class SchedulerCore:
    """Executors, pending calls and call dispatch."""

    def __init__(self, settings: SchedulerSettings, metadata: Metadata) -> None:
        self.settings = settings
        self.bulk = BulkDir.from_env()  # large values put by clients on this host
        self.metadata = metadata
        self.executors: dict[str, ExecutorHandle] = {}
        self.pending: dict[str, PendingCall] = {}
        self.placement = Placement(settings.placement)
        self.locality = Locality()
        self.quarantine = Quarantine(
            settings.quarantine_deaths, settings.quarantine_window_s, settings.quarantine_for_s
        )
        # Set when an executor attaches or stops being overdue: capacity may have come back.
        self._capacity = asyncio.Event()
        self._background: set[asyncio.Task[Any]] = set()
        self._registry_seq = 0
        self._acks: dict[int, tuple[set[str], asyncio.Future[None]]] = {}

    @property
    def registry_seq(self) -> int:
        return self._registry_seq

    async def broadcast(
        self,
        functions: dict[str, str] | None = None,
        dags: dict[str, str] | None = None,
        timeout: float = REGISTRY_ACK_TIMEOUT_S,
    ) -> None:
        """Tells every executor about a registration and waits until each has applied it, so
        once a registration returns no direct call can still run what it replaced."""
        self._registry_seq += 1
        seq = self._registry_seq
        update = executor_pb2.RegistryUpdate(seq=seq, functions=functions or {}, dags=dags or {})
        waiting = set(self.executors)
        if not waiting:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._acks[seq] = (waiting, future)
        for handle in self.executors.values():
            handle.outbox.put_nowait(scheduler_pb2.SchedulerMessage(registry=update))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            log.warning("registry update not acknowledged", seq=seq, executors=sorted(waiting))
        finally:
            self._acks.pop(seq, None)

    def acknowledge(self, executor_id: str, seq: int) -> None:
        for acked, (waiting, future) in list(self._acks.items()):
            if acked <= seq:
                waiting.discard(executor_id)
                if not waiting and not future.done():
                    future.set_result(None)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Runs ``coro`` in the background, keeping a reference until it is done."""
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def attach(self, handle: ExecutorHandle) -> None:
        old = self.executors.get(handle.executor_id)
        if old is not None:
            self.detach(old)
        self.executors[handle.executor_id] = handle
        self._capacity.set()
        log.info("executor attached", executor_id=handle.executor_id, address=handle.address)

    def detach(self, handle: ExecutorHandle) -> None:
        if self.executors.get(handle.executor_id) is not handle:
            return
        del self.executors[handle.executor_id]
        self.acknowledge(handle.executor_id, self._registry_seq)  # nothing to wait for now
        failed = 0
        for call_id, pending in list(self.pending.items()):
            if handle.executor_id in pending.executors and not pending.future.done():
                if pending.retry is not None and pending.retries < IDEMPOTENT_RETRIES:
                    pending.retries += 1
                    pending.executors = frozenset()
                    self.spawn(self._place_again(call_id, pending, pending.retry))
                    continue
                error = ExecutorDiedError(
                    f"executor {handle.executor_id} (pid {handle.pid}) exited while running "
                    f"call {call_id}"
                )
                pending.future.set_result(common_pb2.Outcome(error=to_remote_error(error)))
                failed += 1
        log.warning("executor detached", executor_id=handle.executor_id, failed_calls=failed)

    async def _place_again(
        self, call_id: str, pending: PendingCall, retry: Callable[[], Awaitable[None]]
    ) -> None:
        log.info("executor died: placing an idempotent call again", call_id=call_id)
        try:
            await retry()
        except CloudburstError as exc:
            if not pending.future.done():
                pending.future.set_result(common_pb2.Outcome(error=to_remote_error(exc)))

    async def flushed(self, call_id: str, timeout: float = FLUSH_TIMEOUT_S) -> None:
        """Waits (bounded) until the triggers sent for ``call_id`` are written to the
        streams of the executors it was placed on."""
        pending = self.pending.get(call_id)
        if pending is None:
            return
        loop = asyncio.get_running_loop()
        markers: list[asyncio.Future[None]] = []
        for executor_id in pending.executors:
            handle = self.executors.get(executor_id)
            if handle is not None:
                marker: asyncio.Future[None] = loop.create_future()
                handle.outbox.put_nowait(marker)
                markers.append(marker)
        if markers:
            await asyncio.wait(markers, timeout=timeout)

    def deliver(self, result: scheduler_pb2.CallResult) -> None:
        handle = self.executors.get(result.executor_id)
        if handle is not None:
            handle.running.discard(result.call_id)
        pending = self.pending.get(result.call_id)
        if pending is not None and not pending.future.done():
            pending.future.set_result(result.outcome)

    def check_quarantine(self, functions: Iterable[str]) -> None:
        """Raises :class:`FunctionQuarantinedError` if any of ``functions`` is quarantined."""
        now = time.time()
        for fn in functions:
            quarantined = self.quarantine.check(fn, now)
            if quarantined is not None:
                raise quarantined.error(now)

    def executor_exited(self, exit: scheduler_pb2.ExecutorExit) -> None:
        """An executor died running ``exit.function``: maybe quarantine it."""
        quarantined = self.quarantine.died(exit.function, exit.reason, time.time())
        log.warning(
            "executor died running a function",
            executor_id=exit.executor_id,
            function=exit.function,
            call_id=exit.call_id,
            reason=exit.reason,
            quarantined=quarantined is not None,
        )
        if quarantined is not None:
            log.error(
                "function quarantined",
                function=quarantined.function,
                deaths=quarantined.deaths,
                reason=quarantined.reason,
                until=quarantined.until,
            )

    async def wait_for_executors(self, deadline: float) -> None:
        """Waits (bounded by ``deadline`` and the executor-wait setting) for an executor that
        is not running an overdue call."""
        end = min(deadline, time.monotonic() + self.settings.executor_wait_s)
        while not any(e.available for e in self.executors.values()):
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            self._capacity.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._capacity.wait(), remaining)

    def set_overdue(self, handle: ExecutorHandle, overdue: bool) -> None:
        if handle.overdue != overdue:
            log.warning(
                "executor overdue" if overdue else "executor free", executor_id=handle.executor_id
            )
        handle.overdue = overdue
        if not overdue:
            self._capacity.set()

    def mark_ready(self, handle: ExecutorHandle) -> None:
        if not handle.ready:
            handle.ready = True
            self._capacity.set()

    async def lease(self, request: scheduler_pb2.LeaseRequest) -> scheduler_pb2.LeaseResponse:
        """Placement for direct calls: the call's shape, digests and candidate executors."""
        if request.WhichOneof("target") == "dag":
            shape = await self.metadata.dag(request.dag)
        elif request.WhichOneof("target") == "function":
            shape = single_function(request.function)
        else:
            raise InvalidArgumentError("a lease names a function or a DAG")
        self.check_quarantine(shape.functions)
        entries = {fn: await self.metadata.function(fn) for fn in shape.functions}
        nodes = [
            executor_pb2.DagNode(
                function=fn,
                digest=entries[fn].digest,
                upstream=shape.upstream[fn],
                downstream=shape.downstream[fn],
            )
            for fn in shape.functions
        ]
        await self.wait_for_executors(time.monotonic() + self.settings.executor_wait_s)
        if not self.executors:
            raise NoResourcesError("no executor is attached to the scheduler")
        local = self.locality.bytes_by_node(self.locality.keys_of(shape.functions))
        ranked = self.placement.rank(self._views(), local)
        if not ranked:
            raise NoResourcesError(
                "no executor is ready: each attached one is starting or running a call past "
                "its deadline"
            )
        executors = [self.executors[executor_id] for executor_id in ranked]
        best = executors[0].node_id
        preferred = best if local.get(best, 0) > 0 else ""
        return scheduler_pb2.LeaseResponse(
            direct=self.placement.policy == "colocate",
            nodes=nodes,
            sources=shape.sources,
            dag_version=shape.version,
            executors=[
                scheduler_pb2.ExecutorInfo(
                    executor_id=e.executor_id, address=e.address, node_id=e.node_id, pid=e.pid
                )
                for e in executors
            ],
            ttl_ms=LEASE_TTL_MS,
            preferred_node=preferred,
            idempotent=all(entry.idempotent for entry in entries.values()),
        )

    def _views(self) -> list[ExecutorView]:
        return [
            ExecutorView(e.executor_id, e.in_flight, e.node_id, e.overdue)
            for e in self.executors.values()
            if e.ready
        ]

    async def _place(
        self, shape: DagShape, deadline: float, referenced: set[str]
    ) -> dict[str, ExecutorHandle]:
        await self.wait_for_executors(deadline)
        keys = referenced | self.locality.keys_of(shape.functions)
        placed = self.placement.place(
            shape.functions, self._views(), self.locality.bytes_by_node(keys)
        )
        if not placed:
            raise NoResourcesError("no executor is attached to the scheduler")
        return {fn: self.executors[executor_id] for fn, executor_id in placed.items()}

    async def call(
        self, request: scheduler_pb2.CallRequest, time_remaining: float | None
    ) -> common_pb2.Outcome:
        """Runs a call and returns its outcome."""
        return await (await self.dispatch(request, time_remaining))

    async def dispatch(
        self, request: scheduler_pb2.CallRequest, time_remaining: float | None
    ) -> Coroutine[Any, Any, common_pb2.Outcome]:
        """Validates and places a call and sends its triggers; returns the wait for its
        outcome (which also cleans up and ends the call's span), to await now or later."""
        target = request.dag or request.function
        span = _tracer.start_span(
            "scheduler.call",
            context=tracing.extract(request.trace_context),
            kind=SpanKind.SERVER,
            attributes={
                tracing.CALL_ID: request.call_id,
                tracing.DAG if request.dag else tracing.FUNCTION: target,
            },
        )
        try:
            with (
                trace.use_span(span, end_on_exit=False),
                structlog.contextvars.bound_contextvars(call_id=request.call_id),
            ):
                return await self._dispatch(request, time_remaining, span)
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, str(exc)))
            span.set_attribute(tracing.ERROR_TYPE, type(exc).__name__)
            span.end()
            raise

    async def _dispatch(
        self, request: scheduler_pb2.CallRequest, time_remaining: float | None, span: Span
    ) -> Coroutine[Any, Any, common_pb2.Outcome]:
        timeout = self.settings.call_timeout_s
        if time_remaining is not None:
            timeout = min(timeout, time_remaining)
        deadline = time.monotonic() + timeout
        target = request.WhichOneof("target")
        if target == "dag":
            shape = await self.metadata.dag(request.dag)
        elif target == "function":
            shape = single_function(request.function)
        else:
            raise InvalidArgumentError("a call names a function or a DAG")
        entries = {fn: await self.metadata.function(fn) for fn in shape.functions}
        digests = {fn: entry.digest for fn, entry in entries.items()}
        self.check_quarantine(shape.functions)
        for fn in request.args:
            if fn not in digests:
                raise InvalidArgumentError(
                    f"arguments given for {fn!r}, which is not part of DAG {shape.name!r}"
                )
        if request.consistency not in common_pb2.Consistency.values():
            raise InvalidArgumentError(f"unknown consistency mode {request.consistency}")
        # Snapshot modes read the whole call at the store's current sequence number.
        snapshot = (
            await self.metadata.watermark() if request.consistency != common_pb2.NORMAL else 0
        )
        call_id = request.call_id
        if not call_id:
            raise InvalidArgumentError("a call needs a call_id")
        if call_id in self.pending:
            raise InvalidArgumentError(f"call id {call_id!r} is already in flight")
        referenced = {
            argument.ref.key
            for arg_list in request.args.values()
            for argument in arg_list.args
            if argument.WhichOneof("kind") == "ref"
        }
        involved: set[ExecutorHandle] = set()
        future: asyncio.Future[common_pb2.Outcome] = asyncio.get_running_loop().create_future()
        deadline_ms = int(time.time() * 1000 + timeout * 1000)
        trace_context: dict[str, str] = {}
        tracing.inject(trace_context)

        async def send() -> None:
            """Places the call and sends its sources' triggers (again, for an idempotent
            call whose executor died)."""
            with _tracer.start_as_current_span("scheduler.place") as place_span:
                placed = await self._place(shape, deadline, referenced)
                place_span.set_attribute(
                    "cloudburst.executors", sorted({e.executor_id for e in placed.values()})
                )
            self._send_triggers(
                request, shape, digests, placed, snapshot, deadline_ms, trace_context
            )
            pending.executors = frozenset(e.executor_id for e in placed.values())
            for executor in placed.values():
                involved.add(executor)
                executor.running.add(call_id)

        idempotent = all(entry.idempotent for entry in entries.values())
        pending = PendingCall(future, frozenset(), send if idempotent else None)
        self.pending[call_id] = pending
        try:
            await send()
        except BaseException:
            self.pending.pop(call_id, None)
            raise
        label = shape.name or shape.sink
        return self._outcome(
            call_id, label, future, involved, deadline, timeout, span, request.detach
        )

    def _send_triggers(
        self,
        request: scheduler_pb2.CallRequest,
        shape: DagShape,
        digests: dict[str, str],
        placed: dict[str, ExecutorHandle],
        snapshot: int,
        deadline_ms: int,
        trace_context: dict[str, str],
    ) -> None:
        call_id = request.call_id
        nodes = [
            executor_pb2.DagNode(
                function=fn,
                digest=digests[fn],
                upstream=shape.upstream[fn],
                downstream=shape.downstream[fn],
                executor_id=placed[fn].executor_id,
                executor_address=placed[fn].address,
            )
            for fn in shape.functions
        ]
        for source in shape.sources:
            trigger = executor_pb2.Trigger(
                call_id=call_id,
                scheduler_id=self.settings.scheduler_id,
                dag=shape.name,
                nodes=nodes,
                function=source,
                output_key=request.output_key,
                consistency=request.consistency,
                trace_context=trace_context,
                deadline_ms=deadline_ms,
                snapshot=snapshot,
            )
            for fn, arg_list in request.args.items():
                trigger.args[fn].CopyFrom(arg_list)
            placed[source].outbox.put_nowait(scheduler_pb2.SchedulerMessage(trigger=trigger))

    async def _outcome(
        self,
        call_id: str,
        label: str,
        future: asyncio.Future[common_pb2.Outcome],
        involved: set[ExecutorHandle],
        deadline: float,
        timeout: float,
        span: Span,
        detached: bool = False,
    ) -> common_pb2.Outcome:
        timed_out = False
        try:
            try:
                outcome = await asyncio.wait_for(future, max(0.0, deadline - time.monotonic()))
            except asyncio.CancelledError:
                # The caller cancelled the call (or went away): so do its executors.
                timed_out = True
                for executor in involved:
                    executor.outbox.put_nowait(scheduler_pb2.SchedulerMessage(cancel=call_id))
                raise
            except TimeoutError:
                timed_out = True
                error = CallTimeoutError(
                    f"call {call_id} to {label!r} did not finish within {timeout:.3g} s"
                )
                outcome = common_pb2.Outcome(error=to_remote_error(error))
            if outcome.WhichOneof("kind") == "error":
                span.set_status(Status(StatusCode.ERROR, outcome.error.message))
                span.set_attribute(tracing.ERROR_TYPE, outcome.error.type_name)
                # Executors store results; errors are stored here, so a reader of the call's
                # id (a future passed on, a later lookup) gets the error instead of waiting.
                self.spawn(self.metadata.store_error(call_id, outcome.error))
            elif detached:
                # Its caller reads it by id only: the executor stores it too, but batched, so
                # an executor killed right after answering must not lose it.
                self.spawn(self.metadata.store_result(call_id, outcome.value))
            return outcome
        finally:
            span.end()
            self.pending.pop(call_id, None)
            for executor in involved:
                if timed_out:
                    # Still busy with the call: count it until the executor answers, or for
                    # a grace period if it never does.
                    asyncio.get_running_loop().call_later(
                        BUSY_GRACE_S, executor.running.discard, call_id
                    )
                else:
                    executor.running.discard(call_id)


class SchedulerServicer(scheduler_pb2_grpc.SchedulerServicer):
    def __init__(
        self,
        core: SchedulerCore,
        cache: cache_pb2_grpc.CacheStub,
        clock: HybridClock,
    ) -> None:
        self.core = core
        self.meta = core.metadata
        self.cache = cache
        self.clock = clock

    async def RegisterFunction(
        self, request: scheduler_pb2.RegisterFunctionRequest, context: grpc.aio.ServicerContext
    ) -> scheduler_pb2.RegisterFunctionResponse:
        digest = await self.meta.register_function(
            request.name, request.body, request.kind, request.idempotent
        )
        if self.core.quarantine.lift(request.name):
            log.info("quarantine lifted: function registered again", function=request.name)
        await self.core.broadcast(functions={request.name: digest})
        log.info("function registered", function=request.name, digest=digest)
        return scheduler_pb2.RegisterFunctionResponse(digest=digest)

    async def RegisterDag(
        self, request: scheduler_pb2.RegisterDagRequest, context: grpc.aio.ServicerContext
    ) -> scheduler_pb2.RegisterDagResponse:
        replaced = await self.meta.register_dag(
            request.name,
            list(request.functions),
            [(e.source, e.target) for e in request.connections],
        )
        await self.core.broadcast(dags={request.name: self.meta.dags[request.name].version})
        log.info("dag registered", dag=request.name, replaced=replaced)
        return scheduler_pb2.RegisterDagResponse(replaced=replaced)

    async def DeleteDag(
        self, request: scheduler_pb2.NameRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.Empty:
        await self.meta.delete_dag(request.name)
        await self.core.broadcast(dags={request.name: ""})
        return common_pb2.Empty()

    async def DeleteFunction(
        self, request: scheduler_pb2.DeleteFunctionRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.Empty:
        await self.meta.delete_function(request.name, request.force)
        await self.core.broadcast(functions={request.name: ""})
        return common_pb2.Empty()

    async def ListFunctions(
        self, request: scheduler_pb2.ListRequest, context: grpc.aio.ServicerContext
    ) -> scheduler_pb2.ListResponse:
        return scheduler_pb2.ListResponse(names=await self.meta.function_names(request.prefix))

    async def ListDags(
        self, request: scheduler_pb2.ListRequest, context: grpc.aio.ServicerContext
    ) -> scheduler_pb2.ListResponse:
        return scheduler_pb2.ListResponse(names=await self.meta.dag_names(request.prefix))

    async def Lease(
        self, request: scheduler_pb2.LeaseRequest, context: grpc.aio.ServicerContext
    ) -> scheduler_pb2.LeaseResponse:
        return await self.core.lease(request)

    async def GetDag(
        self, request: scheduler_pb2.NameRequest, context: grpc.aio.ServicerContext
    ) -> scheduler_pb2.DagDefinition:
        shape = await self.meta.dag(request.name)
        return scheduler_pb2.DagDefinition(
            name=shape.name,
            functions=shape.functions,
            connections=[scheduler_pb2.Edge(source=s, target=t) for s, t in shape.connections],
        )

    async def Call(
        self, request: scheduler_pb2.CallRequest, context: grpc.aio.ServicerContext
    ) -> scheduler_pb2.CallResponse:
        if request.detach:
            dispatched = await self.core.dispatch(request, None)
            self.core.spawn(dispatched)
            # Answer once the triggers are written to their executors: the caller only
            # reads the result by id, and a trigger still queued here dies with this process.
            await self.core.flushed(request.call_id)
            return scheduler_pb2.CallResponse(call_id=request.call_id)
        outcome = await self.core.call(request, context.time_remaining())
        return scheduler_pb2.CallResponse(call_id=request.call_id, outcome=outcome)

    async def GetObject(
        self, request: scheduler_pb2.GetObjectRequest, context: grpc.aio.ServicerContext
    ) -> scheduler_pb2.GetObjectResponse:
        check_user_key(request.key)
        reply = await self.cache.Get(
            cache_pb2.CacheGetRequest(keys=[request.key], wait_ms=request.wait_ms),
            timeout=request.wait_ms / 1000 + 10,
        )
        if not reply.entries:
            return scheduler_pb2.GetObjectResponse(found=False)
        return scheduler_pb2.GetObjectResponse(found=True, lattice=reply.entries[0].lattice)

    async def PutObject(
        self, request: scheduler_pb2.PutObjectRequest, context: grpc.aio.ServicerContext
    ) -> scheduler_pb2.PutObjectResponse:
        check_user_key(request.key)
        if request.bulk:
            # A large value as a file of the client's bulk directory: passed on as it is
            # when this scheduler sees the same directory (the storage takes the file).
            bulk = self.core.bulk
            if bulk is None or not bulk.shares(request.bulk_id):
                return scheduler_pb2.PutObjectResponse(resend_inline=True)
            entry = cache_pb2.KeyLattice(key=request.key, bulk=request.bulk)
            reply = await self._put(cache_pb2.CachePutRequest(entries=[entry], bulk_id=bulk.id))
            if not reply.resend_inline:
                return scheduler_pb2.PutObjectResponse()
            # The storage does not share it: read the file here and send the bytes.
            lattice = bulk.take(request.bulk)[:]
        elif request.lattice:
            lattice = request.lattice
        else:
            raise InvalidArgumentError(f"no value given for key {request.key!r}")
        entry = cache_pb2.KeyLattice(key=request.key, lattice=lattice)
        await self._put(cache_pb2.CachePutRequest(entries=[entry]))
        return scheduler_pb2.PutObjectResponse()

    async def _put(self, request: cache_pb2.CachePutRequest) -> cache_pb2.CachePutResponse:
        try:
            reply: cache_pb2.CachePutResponse = await self.cache.Put(request, timeout=10)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, "the storage") from None
        return reply

    async def DeleteObject(
        self, request: scheduler_pb2.NameRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.Empty:
        check_user_key(request.name)
        await self.cache.Delete(cache_pb2.CacheDeleteRequest(keys=[request.name]), timeout=10)
        return common_pb2.Empty()

    async def ListObjects(
        self, request: scheduler_pb2.ListRequest, context: grpc.aio.ServicerContext
    ) -> scheduler_pb2.ListResponse:
        reply = await self.cache.ListKeys(
            cache_pb2.ListKeysRequest(prefix=request.prefix), timeout=10
        )
        return scheduler_pb2.ListResponse(
            names=sorted(k for k in reply.keys if not k.startswith(RESERVED_PREFIX))
        )

    async def CallState(
        self, request: scheduler_pb2.NameRequest, context: grpc.aio.ServicerContext
    ) -> scheduler_pb2.CallStateReply:
        if request.name in self.core.pending:
            return scheduler_pb2.CallStateReply(phase=scheduler_pb2.CALL_PHASE_PENDING)
        check_user_key(request.name)
        # A call that just finished stores its result within milliseconds: wait that long.
        stored = await self.cache.Get(
            cache_pb2.CacheGetRequest(keys=[request.name], wait_ms=CALL_STATE_WAIT_MS),
            timeout=10,
        )
        if stored.entries:
            return scheduler_pb2.CallStateReply(phase=scheduler_pb2.CALL_PHASE_DONE)
        if request.name in self.core.pending:
            return scheduler_pb2.CallStateReply(phase=scheduler_pb2.CALL_PHASE_PENDING)
        return scheduler_pb2.CallStateReply(phase=scheduler_pb2.CALL_PHASE_UNKNOWN)

    async def Attach(
        self,
        request_iterator: AsyncIterator[scheduler_pb2.ExecutorMessage],
        context: grpc.aio.ServicerContext,
    ) -> None:
        first = await asyncio.wait_for(context.read(), HELLO_TIMEOUT_S)
        if first is grpc.aio.EOF or first.WhichOneof("kind") != "hello":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "first message must be hello")
            return
        hello = first.hello
        handle = ExecutorHandle(hello.executor_id, hello.address, hello.node_id, hello.pid)
        holder = self.core.executors.get(handle.executor_id)
        # An id already attached is not taken over while its holder is alive.
        if (
            holder is not None
            and (holder.address, holder.pid) != (handle.address, handle.pid)
            and await _serving(holder.address)
        ):
            log.warning(
                "refused an executor id that is attached and alive",
                executor_id=handle.executor_id,
                holder=holder.address,
                newcomer=handle.address,
            )
            await context.abort(
                grpc.StatusCode.ALREADY_EXISTS,
                f"executor id {handle.executor_id!r} is attached from {holder.address}, "
                "which is alive",
            )
            return
        # Attach first so later registrations reach the outbox, then send the registry
        # snapshot before anything queued there, then welcome: the executor serves direct
        # calls only once it knows the registry.
        self.core.attach(handle)
        writer: asyncio.Task[None] | None = None
        try:
            seq = self.core.registry_seq
            functions, dags = await self.meta.snapshot()
            snapshot = executor_pb2.RegistryUpdate(
                seq=seq, functions=functions, dags=dags, snapshot=True
            )
            await context.write(scheduler_pb2.SchedulerMessage(registry=snapshot))
            welcome = scheduler_pb2.SchedulerMessage(welcome=self.core.settings.scheduler_id)
            await context.write(welcome)
            writer = asyncio.create_task(self._write_loop(handle, context))
            while True:
                message = await context.read()
                if message is grpc.aio.EOF:
                    break
                kind = message.WhichOneof("kind")
                if kind == "result":
                    self.core.deliver(message.result)
                elif kind == "registry_ack":
                    self.core.acknowledge(handle.executor_id, message.registry_ack.seq)
                    self.core.mark_ready(handle)  # the first ack is the snapshot's
                elif kind == "load":
                    self.core.set_overdue(handle, message.load.overdue)
                elif kind == "key_usage":
                    usage = message.key_usage
                    self.core.locality.note_reads(usage.function, usage.keys)
        finally:
            if writer is not None:
                writer.cancel()
            self.core.detach(handle)

    async def ReportKeys(
        self,
        request_iterator: AsyncIterator[scheduler_pb2.KeyReport],
        context: grpc.aio.ServicerContext,
    ) -> common_pb2.Empty:
        node_id = ""
        try:
            async for report in request_iterator:
                node_id = report.node_id
                self.core.locality.report(
                    node_id, report.full, {h.key: h.size for h in report.held}, report.dropped
                )
        finally:
            if node_id:
                self.core.locality.forget_node(node_id)
        return common_pb2.Empty()

    async def ExecutorExited(
        self, request: scheduler_pb2.ExecutorExit, context: grpc.aio.ServicerContext
    ) -> common_pb2.Empty:
        if request.function:
            self.core.executor_exited(request)
        return common_pb2.Empty()

    @staticmethod
    async def _write_loop(handle: ExecutorHandle, context: grpc.aio.ServicerContext) -> None:
        while True:
            item = await handle.outbox.get()
            if isinstance(item, asyncio.Future):
                if not item.done():
                    item.set_result(None)
                continue
            await context.write(item)

    async def Status(
        self, request: common_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> scheduler_pb2.SchedulerStatus:
        return scheduler_pb2.SchedulerStatus(
            scheduler_id=self.core.settings.scheduler_id,
            executors=[
                scheduler_pb2.ExecutorInfo(
                    executor_id=e.executor_id,
                    address=e.address,
                    node_id=e.node_id,
                    pid=e.pid,
                    in_flight=e.in_flight,
                )
                for e in sorted(self.core.executors.values(), key=lambda e: e.executor_id)
                if e.ready
            ],
            functions=len(self.meta.functions),
            dags=len(self.meta.dags),
            pending_calls=len(self.core.pending),
            nodes=[
                scheduler_pb2.NodeInfo(node_id=node, keys=len(held), bytes=sum(held.values()))
                for node, held in sorted(self.core.locality.nodes.items())
            ],
            quarantined=[
                scheduler_pb2.QuarantinedFunction(
                    function=q.function, reason=q.reason, until=q.until
                )
                for q in self.core.quarantine.current(time.time())
            ],
        )


async def _serving(address: str, timeout: float = 1.0) -> bool:
    """Whether the server at ``address`` answers its health check as serving."""
    channel = aio_channel(address, service_credentials())
    try:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=timeout
        )
    except grpc.RpcError:
        return False
    finally:
        await channel.close()
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


class SchedulerServer:
    """The scheduler process: start, serve, stop gracefully."""

    def __init__(self, settings: SchedulerSettings) -> None:
        self.settings = settings
        self._channel = aio_channel(settings.cache_address, service_credentials())
        cache = cache_pb2_grpc.CacheStub(self._channel)
        clock = HybridClock()
        self.core = SchedulerCore(settings, Metadata(cache, clock))
        self._server, self._health = new_server("the scheduler")
        scheduler_pb2_grpc.add_SchedulerServicer_to_server(
            SchedulerServicer(self.core, cache, clock), self._server
        )
        self.port = 0

    async def start(self) -> None:
        try:
            await asyncio.wait_for(self._channel.channel_ready(), 30)
        except TimeoutError:
            raise CloudburstError(
                f"scheduler cannot reach the cache at {self.settings.cache_address}"
            ) from None
        self.port = listen(self._server, self.settings.address)
        if self.port == 0:
            raise OSError(f"scheduler cannot listen on {self.settings.address}")
        await self._server.start()
        await set_serving(self._health, True)
        log.info(
            "scheduler serving",
            address=f"{self.settings.host}:{self.port}",
            scheduler_id=self.settings.scheduler_id,
        )

    async def stop(self, grace: float = 2.0) -> None:
        await set_serving(self._health, False)
        await self._server.stop(grace)
        await self._channel.close()


async def serve(settings: SchedulerSettings) -> None:
    server = SchedulerServer(settings)
    await server.start()
    await run_until_stopped(asyncio.Event(), server.stop)


__all__ = ["SchedulerServer", "serve"]
