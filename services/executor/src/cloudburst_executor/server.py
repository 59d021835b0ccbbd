"""The executor service: receives triggers from schedulers and peers, runs user code one call
at a time in a worker thread, forwards results to downstream executors, and delivers the
sink's result to the scheduler that started the call (and to the store)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio
import structlog
from cloudburst_lattices import lww_payload
from cloudburst_protocol import serializer, tracing, values
from cloudburst_protocol.auth import service_credentials
from cloudburst_protocol.bulk import BulkDir, Data
from cloudburst_protocol.channels import aio_channel, sync_channel
from cloudburst_protocol.clock import HybridClock
from cloudburst_protocol.errors import (
    CallCancelledError,
    CallTimeoutError,
    CloudburstError,
    InvalidArgumentError,
    KeyNotFoundError,
    StaleLeaseError,
    to_remote_error,
)
from cloudburst_protocol.gen import (
    cache_pb2,
    cache_pb2_grpc,
    common_pb2,
    executor_pb2,
    executor_pb2_grpc,
    scheduler_pb2,
    scheduler_pb2_grpc,
)
from cloudburst_protocol.grpc_errors import error_from_rpc
from cloudburst_protocol.keys import FN_BODY
from cloudburst_protocol.running import RunningFile
from cloudburst_protocol.runtime import listen, new_server, run_until_stopped, set_serving
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode

from cloudburst_executor.functions import LoadedFunction
from cloudburst_executor.library import Inbox, UserLibrary
from cloudburst_executor.results import ResultWriter
from cloudburst_executor.runaway import RunawayWatch, Running
from cloudburst_executor.settings import ExecutorSettings
from cloudburst_executor.snapshot import as_entries, merge_writes, overlay
from cloudburst_executor.user_thread import UserThread
from cloudburst_executor.values_cache import ValueCache, inline, take_bulk

log = structlog.get_logger("cloudburst.executor")
_tracer = tracing.tracer("cloudburst.executor")

RECONNECT_MAX_S = 2.0
MAX_BATCH = 64
"""Works ready together that go to the user thread as one job, at most."""
BATCH_BYTES = 16 * 1024 * 1024
"""Replies ready together go back in one message, up to about this many bytes of values."""
USAGE_REPORT_S = 0.1
WATCHDOG_S = 0.2
"""How often the executor looks at how long user code has been running."""
CANCELLED_MEMORY_S = 600.0
"""How long a cancelled call id is remembered (its triggers may still arrive)."""
RUNAWAY_EXIT_CODE = 75
"""The exit code of an executor replaced because user code overran (the supervisor
restarts it)."""


@dataclass(eq=False)
class Work:
    trigger: executor_pb2.Trigger
    node: executor_pb2.DagNode
    upstream_values: list[bytes]
    # Snapshot modes: the call's writes so far (from every upstream).
    writes: dict[str, bytes] = field(default_factory=dict)


@dataclass(eq=False, slots=True)
class DirectCall:
    """A client's direct call in progress: who to answer, and its deadline's timer."""

    answer: Callable[[str, common_pb2.Outcome], None]
    timer: asyncio.TimerHandle
    # A single-function call: refused (to be placed elsewhere) if it has not started when
    # this executor becomes overdue.
    single: bool = False


@dataclass(eq=False)
class Join:
    """Results from a function's upstreams, gathered until all have arrived."""

    values: dict[str, bytes] = field(default_factory=dict)
    writes: list[list[cache_pb2.KeyLattice]] = field(default_factory=list)
    expiry: asyncio.TimerHandle | None = None


class SchedulerLink:
    """The attach stream to one scheduler: triggers come down, results go up."""

    def __init__(self, executor: ExecutorServer, address: str) -> None:
        self.executor = executor
        self.address = address
        self.scheduler_id = ""
        self._channel = aio_channel(address, service_credentials())
        self._stub = scheduler_pb2_grpc.SchedulerStub(self._channel)
        self._call: grpc.aio.StreamStreamCall[Any, Any] | None = None
        self._write_lock = asyncio.Lock()
        self.attached = asyncio.Event()

    async def run(self) -> None:
        backoff = 0.05
        while True:
            try:
                await self._session()
                backoff = 0.05
            except (grpc.RpcError, OSError) as exc:
                log.info("scheduler link down", scheduler=self.address, error=str(exc)[:200])
            self.attached.clear()
            self._call = None
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RECONNECT_MAX_S)

    async def _session(self) -> None:
        call = self._stub.Attach(wait_for_ready=True)
        ex = self.executor
        await call.write(
            scheduler_pb2.ExecutorMessage(
                hello=scheduler_pb2.ExecutorHello(
                    executor_id=ex.settings.executor_id,
                    address=ex.address,
                    node_id=ex.settings.node_id,
                    pid=os.getpid(),
                )
            )
        )
        self._call = call
        async for message in call:
            kind = message.WhichOneof("kind")
            if kind == "welcome":
                self.scheduler_id = message.welcome
                ex.links_by_id[self.scheduler_id] = self
                self.attached.set()
                log.info("attached to scheduler", scheduler=self.address, id=self.scheduler_id)
            elif kind == "trigger":
                ex.on_trigger(message.trigger)
            elif kind == "cancel":
                ex.cancel(message.cancel)
            elif kind == "registry":
                ex.apply_registry(message.registry)
                ack = scheduler_pb2.RegistryAck(seq=message.registry.seq)
                await self._write(scheduler_pb2.ExecutorMessage(registry_ack=ack))

    async def send_usage(self, usage: scheduler_pb2.KeyUsage) -> None:
        with contextlib.suppress(grpc.RpcError):
            await self._write(scheduler_pb2.ExecutorMessage(key_usage=usage))

    async def send_load(self, load: scheduler_pb2.LoadReport) -> None:
        with contextlib.suppress(grpc.RpcError):
            await self._write(scheduler_pb2.ExecutorMessage(load=load))

    async def send_result(self, result: scheduler_pb2.CallResult) -> None:
        if not await self._write(scheduler_pb2.ExecutorMessage(result=result)):
            log.warning("result dropped: scheduler link down", call_id=result.call_id)

    async def _write(self, message: scheduler_pb2.ExecutorMessage) -> bool:
        call = self._call
        if call is None:
            return False
        async with self._write_lock:
            await call.write(message)
        return True

    async def close(self) -> None:
        await self._channel.close()


class PeerLinks:
    """Long-lived streams to other executors, one per peer address."""

    def __init__(self) -> None:
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._calls: dict[str, grpc.aio.StreamUnaryCall[Any, Any]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def send(self, address: str, message: executor_pb2.PeerMessage) -> None:
        lock = self._locks.setdefault(address, asyncio.Lock())
        async with lock:
            call = self._calls.get(address)
            if call is None or call.done():
                channel = self._channels.get(address)
                if channel is None:
                    channel = aio_channel(address, service_credentials())
                    self._channels[address] = channel
                call = executor_pb2_grpc.ExecutorStub(channel).Deliver(wait_for_ready=True)
                self._calls[address] = call
            try:
                await asyncio.wait_for(call.write(message), 10)
            except (grpc.RpcError, TimeoutError, asyncio.InvalidStateError) as exc:
                self._calls.pop(address, None)
                raise CloudburstError(f"cannot reach executor at {address}: {exc}") from None

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()


class ExecutorServicer(executor_pb2_grpc.ExecutorServicer):
    def __init__(self, executor: ExecutorServer) -> None:
        self.executor = executor

    async def Deliver(
        self,
        request_iterator: AsyncIterator[executor_pb2.PeerMessage],
        context: grpc.aio.ServicerContext,
    ) -> common_pb2.Empty:
        async for message in request_iterator:
            kind = message.WhichOneof("kind")
            if kind == "trigger":
                self.executor.on_trigger(message.trigger)
            elif kind == "user":
                self.executor.inbox.push(message.user.sender, message.user.body)
        return common_pb2.Empty()

    async def Calls(
        self,
        request_iterator: AsyncIterator[executor_pb2.CallBatch],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[executor_pb2.ReplyBatch]:
        """A client's session: batches of triggers come in; outcomes go back as calls finish,
        whatever is ready in one message (one stream per client and executor instead of one
        RPC per call)."""
        ready: list[executor_pb2.CallReply] = []
        wake = asyncio.Event()
        open_calls = 0
        reading = True

        def answer(call_id: str, outcome: common_pb2.Outcome) -> None:
            nonlocal open_calls
            ready.append(executor_pb2.CallReply(call_id=call_id, outcome=outcome))
            open_calls -= 1
            wake.set()

        async def read() -> None:
            nonlocal open_calls, reading
            try:
                async for batch in request_iterator:
                    open_calls += len(batch.triggers)
                    for trigger in batch.triggers:
                        self.executor.start_direct(trigger, answer)
                    for call_id in batch.cancel:
                        self.executor.cancel(call_id)
            finally:
                reading = False
                wake.set()

        reader = asyncio.create_task(read())
        try:
            while reading or open_calls or ready:
                await wake.wait()
                wake.clear()
                while ready:
                    yield executor_pb2.ReplyBatch(replies=_take_batch(ready))
        finally:
            reader.cancel()


def _take_batch(ready: list[executor_pb2.CallReply]) -> list[executor_pb2.CallReply]:
    """Takes replies off the front of ``ready`` for one message (bounded in bytes)."""
    size = 0
    for count, reply in enumerate(ready):
        size += len(reply.outcome.value)
        if size > BATCH_BYTES and count:
            break
    else:
        count = len(ready)
    batch = ready[:count]
    del ready[:count]
    return batch


class ExecutorServer:
    """The executor process: start, serve, stop gracefully."""

    def __init__(self, settings: ExecutorSettings) -> None:
        self.settings = settings
        self.address = ""
        self.clock = HybridClock()
        self.inbox = Inbox()
        self.links: list[SchedulerLink] = []
        self.links_by_id: dict[str, SchedulerLink] = {}
        self.peers = PeerLinks()
        self.functions: dict[str, LoadedFunction] = {}
        self.joins: dict[tuple[str, str], Join] = {}
        # What the scheduler says is registered: direct calls are checked against it.
        self.registry_functions: dict[str, str] = {}
        self.registry_dags: dict[str, str] = {}
        # Direct calls waiting for their sink's outcome.
        self.direct: dict[str, DirectCall] = {}
        self._reads: dict[str, set[str]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._usage_flush: asyncio.TimerHandle | None = None
        self.queue: asyncio.Queue[Work] = asyncio.Queue()
        self._user: UserThread | None = None
        self._tracing = tracing.enabled()
        self._cache_channel = aio_channel(settings.cache_address, service_credentials())
        self.cache = cache_pb2_grpc.CacheStub(self._cache_channel)
        self.results = ResultWriter(self.cache, int(settings.result_ttl_s * 1000))
        self.values = ValueCache()
        self.bulk = BulkDir.from_env()
        # What user code is running now, for the supervisor if this process dies of it.
        self.running = RunningFile(settings.running_file)
        # The call whose user code runs now (id, deadline in unix seconds), set on the user
        # thread; the watchdog acts on calls that overrun (see RunawayWatch).
        self._current: tuple[str, float] | None = None
        self.watch = RunawayWatch(settings.runaway_grace_s)
        self.cancelled: dict[str, float] = {}
        # User code runs in a worker thread and talks to the store synchronously.
        self._sync_cache_channel = sync_channel(settings.cache_address, service_credentials())
        self._server, self._health = new_server("the executor")
        executor_pb2_grpc.add_ExecutorServicer_to_server(ExecutorServicer(self), self._server)
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.library: UserLibrary | None = None

    @property
    def messaging_id(self) -> str:
        return f"{self.settings.executor_id}@{self.address}"

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._user = UserThread(self._loop)
        port = listen(self._server, self.settings.bind_address)
        if port == 0:
            raise OSError(f"executor cannot listen on {self.settings.bind_address}")
        self.address = f"{self.settings.advertise_host}:{port}"
        self.library = UserLibrary(
            cache_pb2_grpc.CacheStub(self._sync_cache_channel),
            self.values,
            self.clock,
            self.messaging_id,
            self.inbox,
            self._send_from_thread,
            self.bulk,
        )
        await self._server.start()
        self._tasks.append(asyncio.create_task(self._work_loop()))
        self._tasks.append(asyncio.create_task(self._watchdog()))
        for address in self.settings.scheduler_addresses:
            link = SchedulerLink(self, address)
            self.links.append(link)
            self._tasks.append(asyncio.create_task(link.run()))
        await asyncio.wait_for(asyncio.gather(*(link.attached.wait() for link in self.links)), 60)
        await set_serving(self._health, True)
        log.info("executor serving", address=self.address, executor_id=self.settings.executor_id)

    async def stop(self, grace: float = 2.0) -> None:
        await set_serving(self._health, False)
        for task in self._tasks:
            task.cancel()
        await self._server.stop(grace)
        await self.results.stop()
        for link in self.links:
            await link.close()
        await self.peers.close()
        await self._cache_channel.close()
        self._sync_cache_channel.close()
        if self._user is not None:
            self._user.stop()

    # -- registry and direct calls ---------------------------------------------------------

    def apply_registry(self, update: executor_pb2.RegistryUpdate) -> None:
        if update.snapshot:
            self.registry_functions = dict(update.functions)
            self.registry_dags = dict(update.dags)
        else:
            for table, changes in (
                (self.registry_functions, update.functions),
                (self.registry_dags, update.dags),
            ):
                for name, version in changes.items():
                    if version:
                        table[name] = version
                    else:
                        table.pop(name, None)
        # Loaded code (and class instances) of functions replaced or deleted since: gone,
        # so an executor's memory does not grow with every re-registration.
        live = set(self.registry_functions.values())
        for digest in [d for d in self.functions if d not in live]:
            del self.functions[digest]

    def _stale(self, trigger: executor_pb2.Trigger) -> str | None:
        """Why a direct call's lease is outdated, or ``None`` when it is current."""
        for node in trigger.nodes:
            if self.registry_functions.get(node.function) != node.digest:
                return f"function {node.function!r} was replaced or deleted since the lease"
        if trigger.dag and self.registry_dags.get(trigger.dag) != trigger.dag_version:
            return f"DAG {trigger.dag!r} was replaced or deleted since the lease"
        return None

    def start_direct(
        self, trigger: executor_pb2.Trigger, answer: Callable[[str, common_pb2.Outcome], None]
    ) -> None:
        """Starts a client's direct call: every function of it runs here. ``answer`` gets the
        sink's outcome (or why the call was refused) exactly once."""
        call_id = trigger.call_id
        problem: CloudburstError | None = None
        stale = self._stale(trigger)
        if self.watch.overdue:
            problem = StaleLeaseError(
                f"executor {self.settings.executor_id} is running an overdue call; "
                "place the call elsewhere"
            )
        elif stale is not None:
            problem = StaleLeaseError(stale)
        elif (invalid := _invalid_direct_call(trigger, self.direct)) is not None:
            problem = InvalidArgumentError(invalid)
        if problem is not None:
            answer(call_id, common_pb2.Outcome(error=to_remote_error(problem)))
            return
        loop = asyncio.get_running_loop()
        remaining = trigger.deadline_ms / 1000 - time.time()
        call = DirectCall(
            answer,
            loop.call_later(max(0.0, remaining), self._late, call_id),
            single=len(trigger.nodes) == 1,
        )
        self.direct[call_id] = call
        if trigger.consistency != common_pb2.NORMAL and not trigger.snapshot:
            task = asyncio.create_task(self._start_at_snapshot(trigger))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return
        self._start_sources(trigger)

    async def _start_at_snapshot(self, trigger: executor_pb2.Trigger) -> None:
        # The call's snapshot: everything this node's cache has caught up with.
        try:
            reply = await self.cache.Watermark(common_pb2.Empty(), timeout=10)
        except grpc.RpcError as exc:
            self._answer_direct(trigger.call_id, _failed(error_from_rpc(exc, "cache")))
            return
        if not reply.seq:
            refused = InvalidArgumentError(
                "this cluster's storage cannot serve snapshot reads (a Redis Cluster orders "
                "changes per key only); use consistency NORMAL"
            )
            self._answer_direct(trigger.call_id, _failed(refused))
            return
        trigger.snapshot = reply.seq
        self._start_sources(trigger)

    def _start_sources(self, trigger: executor_pb2.Trigger) -> None:
        if len(trigger.nodes) == 1:
            trigger.function = trigger.nodes[0].function
            self.on_trigger(trigger)
            return
        for node in trigger.nodes:
            if not node.upstream:
                source = executor_pb2.Trigger()
                source.CopyFrom(trigger)
                source.function = node.function
                self.on_trigger(source)

    def _late(self, call_id: str) -> None:
        late = CallTimeoutError(f"call {call_id} did not finish before its deadline")
        outcome = _failed(late)
        if self._answer_direct(call_id, outcome):
            self._store_error(call_id, outcome.error)

    def _answer_direct(self, call_id: str, outcome: common_pb2.Outcome) -> bool:
        """Answers a direct call (once); ``False`` if it was answered already."""
        call = self.direct.pop(call_id, None)
        if call is None:
            return False
        call.timer.cancel()
        call.answer(call_id, outcome)
        return True

    # -- cancellation and runaway calls ---------------------------------------------------

    def cancel(self, call_id: str) -> None:
        """The caller cancelled ``call_id``: it is answered now and never started; if its
        user code is running, this executor becomes overdue (see :meth:`_watchdog`)."""
        self.cancelled[call_id] = time.monotonic()
        outcome = _failed(CallCancelledError(f"call {call_id} was cancelled by its caller"))
        if self._answer_direct(call_id, outcome):
            self._store_error(call_id, outcome.error)
        log.info("call cancelled", call_id=call_id)

    def _skipped(self, trigger: executor_pb2.Trigger) -> bool:
        """Whether a work must not run: its call was cancelled, or it is a direct call that
        was answered already (refused, cancelled or past its deadline)."""
        if trigger.call_id in self.cancelled:
            return True
        return trigger.direct and trigger.call_id not in self.direct

    async def _watchdog(self) -> None:
        """Every WATCHDOG_S: the call whose user code runs now, judged by RunawayWatch."""
        while True:
            await asyncio.sleep(WATCHDOG_S)
            current = self._current
            running = (
                None
                if current is None
                else Running(current[0], current[1], current[0] in self.cancelled)
            )
            action = self.watch.tick(time.time(), running)
            if action == "overdue":
                assert running is not None
                await self._on_overdue(running)
            elif action == "recovered":
                log.info("overdue call returned: taking calls again")
                self._report_load(overdue=False)
            elif action == "replace":
                assert running is not None
                await self._replace(running)
            expired = time.monotonic() - CANCELLED_MEMORY_S
            for call_id in [c for c, t in self.cancelled.items() if t < expired]:
                del self.cancelled[call_id]

    async def _on_overdue(self, running: Running) -> None:
        """Stops taking calls: placement is told (first, so calls placed again do not come
        back here), and direct calls not started yet are sent back to be placed elsewhere."""
        log.warning(
            "call overdue: taking no calls until it returns",
            call_id=running.call_id,
            cancelled=running.cancelled,
            grace_s=self.watch.grace_s,
        )
        load = scheduler_pb2.LoadReport(overdue=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                asyncio.gather(*(link.send_load(load) for link in self.links_by_id.values())),
                1.0,
            )
        refused = StaleLeaseError(
            f"executor {self.settings.executor_id} is running an overdue call; "
            "place the call elsewhere"
        )
        for call_id, call in list(self.direct.items()):
            if call.single and call_id != running.call_id:
                self._answer_direct(call_id, _failed(refused))

    def _report_load(self, overdue: bool) -> None:
        for link in self.links_by_id.values():
            task = asyncio.create_task(link.send_load(scheduler_pb2.LoadReport(overdue=overdue)))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _replace(self, running: Running) -> None:
        """User code overran its deadline by the grace period: this process ends (after
        writing the results it holds) and its supervisor starts a new one."""
        log.error(
            "user code did not return within the grace period: replacing this executor",
            call_id=running.call_id,
            grace_s=self.watch.grace_s,
        )
        self.running.clear()  # an overrun is not a crash: do not count it against the function
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.results.stop(), 1.0)
        os._exit(RUNAWAY_EXIT_CODE)

    def _store_error(self, call_id: str, error: common_pb2.RemoteError) -> None:
        self.results.add(call_id, values.wrap_encoded(serializer.dump_error(error), self.clock))

    # -- triggers -------------------------------------------------------------------------

    def on_trigger(self, trigger: executor_pb2.Trigger) -> None:
        node = next((n for n in trigger.nodes if n.function == trigger.function), None)
        if node is None:
            log.error("trigger for unknown node", call_id=trigger.call_id, fn=trigger.function)
            return
        upstream = list(node.upstream)
        if len(upstream) <= 1:
            writes = merge_writes(trigger.writes) if trigger.writes else {}
            self.queue.put_nowait(Work(trigger, node, [trigger.value] if upstream else [], writes))
            return
        key = (trigger.call_id, trigger.function)
        join = self.joins.get(key)
        if join is None:
            join = self.joins[key] = Join()
            remaining = max(0.0, trigger.deadline_ms / 1000 - time.time()) + 1.0
            join.expiry = asyncio.get_running_loop().call_later(
                remaining, self.joins.pop, key, None
            )
        join.values[trigger.from_function] = trigger.value
        join.writes.append(list(trigger.writes))
        if len(join.values) == len(upstream):
            del self.joins[key]
            if join.expiry is not None:
                join.expiry.cancel()
            values = [join.values[u] for u in upstream]
            self.queue.put_nowait(Work(trigger, node, values, merge_writes(*join.writes)))

    async def _work_loop(self) -> None:
        while True:
            ready = [await self.queue.get()]
            while len(ready) < MAX_BATCH and not self.queue.empty():
                ready.append(self.queue.get_nowait())
            # Consecutive plain works go to the user thread as one job (one hand-off for a
            # burst of calls instead of one each); the rest run one by one, in order.
            batch: list[tuple[Work, LoadedFunction, list[Any]]] = []
            for work in ready:
                plain = self._plain(work)
                if plain is not None:
                    batch.append(plain)
                    continue
                await self._run_batch(batch)
                batch = []
                try:
                    await self._execute(work)
                except Exception:  # a runtime bug must not stop the executor: log it, go on
                    log.exception("executing a trigger failed", call_id=work.trigger.call_id)
            await self._run_batch(batch)

    def _plain(self, work: Work) -> tuple[Work, LoadedFunction, list[Any]] | None:
        """A work whose user code can start without the event loop: itself, its function
        and its encoded arguments (see :meth:`_runnable_plainly`)."""
        runnable = self._runnable_plainly(work.trigger, work.node)
        return None if runnable is None else (work, *runnable)

    def _runnable_plainly(
        self, trigger: executor_pb2.Trigger, node: executor_pb2.DagNode
    ) -> tuple[LoadedFunction, list[bytes]] | None:
        """The function of ``node`` and its encoded explicit arguments when running it needs
        nothing from the event loop first: loaded, no references, NORMAL consistency, not
        late."""
        if trigger.snapshot:
            return None
        fn = self.functions.get(node.digest)
        arguments = trigger.args[node.function].args if node.function in trigger.args else []
        if fn is None or any(a.WhichOneof("kind") == "ref" for a in arguments):
            return None
        if trigger.deadline_ms and time.time() * 1000 > trigger.deadline_ms:
            return None  # the event loop answers the late call
        if trigger.call_id in self.cancelled:
            return None  # nor does a cancelled one run
        return fn, [a.value for a in arguments]

    async def _run_batch(self, batch: list[tuple[Work, LoadedFunction, list[Any]]]) -> None:
        if not batch:
            return
        assert self._user is not None
        spans = [self._execute_span(work) for work, _, _ in batch]
        done = await self._user.run(contextvars.copy_context().run, self._run_plain, batch, spans)
        for (work, _, _), span, result in zip(batch, spans, done, strict=True):
            tokens = structlog.contextvars.bind_contextvars(call_id=work.trigger.call_id)
            try:
                with trace.use_span(span, end_on_exit=True):
                    if isinstance(result, BaseException):
                        outcome: common_pb2.Outcome | None = await self._finish(
                            work.trigger, _failed(result)
                        )
                    else:
                        node, encoded, writes = result
                        outcome = await self._after(work, node, encoded, writes, span)
                    _mark_failed(span, outcome)
            except Exception:  # a runtime bug must not stop the executor: log it, go on
                log.exception("executing a trigger failed", call_id=work.trigger.call_id)
            finally:
                structlog.contextvars.reset_contextvars(**tokens)

    def _run_plain(
        self, batch: list[tuple[Work, LoadedFunction, list[Any]]], spans: list[Span]
    ) -> list[tuple[executor_pb2.DagNode, bytes, dict[str, bytes]] | BaseException]:
        """On the user thread: each work of a batch (under its span), its error kept apart
        from the others."""
        done: list[tuple[executor_pb2.DagNode, bytes, dict[str, bytes]] | BaseException] = []
        for (work, fn, encoded_args), span in zip(batch, spans, strict=True):
            tokens = structlog.contextvars.bind_contextvars(call_id=work.trigger.call_id)
            try:
                if self._skipped(work.trigger):
                    done.append(CallCancelledError(f"call {work.trigger.call_id} was not run"))
                    continue
                with trace.use_span(span, end_on_exit=False):
                    explicit = [serializer.loads(value) for value in encoded_args]
                    done.append(self._run_user_chain(fn, explicit, work))
            except BaseException as exc:  # even sys.exit() in user code fails only its call
                done.append(exc)
            finally:
                structlog.contextvars.reset_contextvars(**tokens)
        return done

    async def _execute(self, work: Work) -> None:
        tokens = structlog.contextvars.bind_contextvars(call_id=work.trigger.call_id)
        try:
            if not self._tracing:
                await self._run(work, INVALID_SPAN)
                return
            span = self._execute_span(work)
            with trace.use_span(span, end_on_exit=True):
                _mark_failed(span, await self._run(work, span))
        finally:
            structlog.contextvars.reset_contextvars(**tokens)

    def _execute_span(self, work: Work) -> Span:
        """The span of one function's execution (a no-op one with tracing off)."""
        if not self._tracing:
            return INVALID_SPAN
        trigger, node = work.trigger, work.node
        return _tracer.start_span(
            f"execute {node.function}",
            context=tracing.extract(trigger.trace_context),
            kind=SpanKind.CONSUMER,
            attributes={
                tracing.CALL_ID: trigger.call_id,
                tracing.FUNCTION: node.function,
                tracing.DAG: trigger.dag,
                tracing.EXECUTOR: self.settings.executor_id,
                tracing.NODE: self.settings.node_id,
            },
        )

    async def _run(self, work: Work, span: Span) -> common_pb2.Outcome | None:
        """Runs one function of a call; returns the outcome if the call ends here."""
        trigger, node = work.trigger, work.node
        if self._skipped(trigger):
            cancelled = CallCancelledError(f"call {trigger.call_id} was cancelled or answered")
            return await self._finish(trigger, _failed(cancelled))
        if trigger.deadline_ms and time.time() * 1000 > trigger.deadline_ms:
            # The caller has given up: do not run late work, but answer so the scheduler
            # knows this executor is free again.
            late = CallTimeoutError(f"call {trigger.call_id} passed its deadline before it ran")
            return await self._finish(trigger, common_pb2.Outcome(error=to_remote_error(late)))
        try:
            fn = await self._function(node)
            explicit = await self._resolve_args(trigger, node.function, span, work.writes)
            assert self._user is not None
            context = contextvars.copy_context()  # user-library calls see the current span
            node, encoded, writes = await self._user.run(
                context.run, self._run_user_chain, fn, explicit, work
            )
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            return await self._finish(trigger, common_pb2.Outcome(error=to_remote_error(exc)))
        return await self._after(work, node, encoded, writes, span)

    async def _after(
        self,
        work: Work,
        node: executor_pb2.DagNode,
        encoded: bytes,
        writes: dict[str, bytes],
        span: Span,
    ) -> common_pb2.Outcome | None:
        """After ``node``'s user code: the call's outcome if it ends here, else its result
        passed on downstream."""
        trigger = work.trigger
        if span.is_recording():
            span.set_attribute("cloudburst.upstream_bytes", sum(map(len, work.upstream_values)))
            span.set_attribute("cloudburst.result_bytes", len(encoded))
        if not node.downstream:
            return await self._finish(trigger, common_pb2.Outcome(value=encoded), store=True)
        for target in node.downstream:
            target_node = next(n for n in trigger.nodes if n.function == target)
            if len(node.downstream) == 1:
                forwarded = trigger  # this function's work is done: reuse its trigger
            else:
                forwarded = executor_pb2.Trigger()
                forwarded.CopyFrom(trigger)
            forwarded.function = target
            forwarded.from_function = node.function
            forwarded.value = encoded
            if trigger.snapshot:
                del forwarded.writes[:]
                forwarded.writes.extend(as_entries(writes))
            if not self._tracing:
                failed = await self._forward(forwarded, target_node)
            else:
                with _tracer.start_as_current_span(
                    f"trigger {target}",
                    kind=SpanKind.PRODUCER,
                    attributes={"cloudburst.target_executor": target_node.executor_id},
                ):
                    forwarded.trace_context.clear()
                    tracing.inject(forwarded.trace_context)
                    failed = await self._forward(forwarded, target_node)
            if failed is not None:
                return await self._finish(trigger, failed)
        return None

    async def _forward(
        self, forwarded: executor_pb2.Trigger, target: executor_pb2.DagNode
    ) -> common_pb2.Outcome | None:
        """Passes a trigger to the executor of its function; the error if it cannot."""
        if target.executor_id == self.settings.executor_id:
            self.on_trigger(forwarded)
            return None
        try:
            await self.peers.send(
                target.executor_address, executor_pb2.PeerMessage(trigger=forwarded)
            )
        except CloudburstError as exc:
            return _failed(exc)
        return None

    def _run_user_chain(
        self, fn: LoadedFunction, explicit: list[Any], work: Work
    ) -> tuple[executor_pb2.DagNode, bytes, dict[str, bytes]]:
        """Runs the work's function and, while the next function of the DAG is a plain
        continuation (see :meth:`_continuation`), that one too, without going back to the
        event loop in between (a hand-off costs about 90 µs). Returns the last function run,
        its encoded result and its writes."""
        node = work.node
        encoded, writes = self._run_user_code(fn, explicit, work)
        while (continuation := self._continuation(work.trigger, node)) is not None:
            node, fn, explicit = continuation
            work = Work(work.trigger, node, [encoded])
            encoded, writes = self._run_user_code(fn, explicit, work)
        return node, encoded, writes

    def _continuation(
        self, trigger: executor_pb2.Trigger, node: executor_pb2.DagNode
    ) -> tuple[executor_pb2.DagNode, LoadedFunction, list[Any]] | None:
        """The next function of the call when it can run right away on this thread: the
        only one downstream, placed here, waiting for nothing else, and runnable plainly
        (see :meth:`_runnable_plainly`), with tracing off (each function keeps its own span
        otherwise)."""
        if len(node.downstream) != 1 or self._tracing:
            return None
        target = next(n for n in trigger.nodes if n.function == node.downstream[0])
        if target.executor_id != self.settings.executor_id or len(target.upstream) != 1:
            return None
        runnable = self._runnable_plainly(trigger, target)
        if runnable is None:
            return None
        fn, encoded_args = runnable
        return target, fn, [serializer.loads(value) for value in encoded_args]

    def _run_user_code(
        self, fn: LoadedFunction, explicit: list[Any], work: Work
    ) -> tuple[bytes, dict[str, bytes]]:
        """Runs in the worker thread; returns the encoded result and the call's writes."""
        args = [*explicit, *(serializer.loads(v) for v in work.upstream_values)]
        library = self.library
        assert library is not None
        library.begin_call(work.trigger.snapshot, dict(work.writes))
        self.running.record(fn.name, work.trigger.call_id)
        self._current = (work.trigger.call_id, work.trigger.deadline_ms / 1000)
        try:
            result = fn(library, args)
        finally:
            self._current = None
            self.running.clear()
            if library.reads:
                reads = list(library.reads)
                assert self._loop is not None
                self._loop.call_soon_threadsafe(self._note_reads, fn.name, reads)
        return serializer.dumps(result), library.writes

    def _note_reads(self, function: str, keys: list[str]) -> None:
        """Remembers what a function read; reported to the scheduler (placement) in batches."""
        self._reads.setdefault(function, set()).update(keys)
        if self._usage_flush is None:
            self._usage_flush = asyncio.get_running_loop().call_later(
                USAGE_REPORT_S, self._report_usage
            )

    def _report_usage(self) -> None:
        self._usage_flush = None
        reads, self._reads = self._reads, {}
        link = next(iter(self.links_by_id.values()), None)
        if link is None:
            return
        for function, keys in reads.items():
            usage = scheduler_pb2.KeyUsage(function=function, keys=sorted(keys))
            task = asyncio.create_task(link.send_usage(usage))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _function(self, node: executor_pb2.DagNode) -> LoadedFunction:
        fn = self.functions.get(node.digest)
        if fn is None:
            try:
                reply = await self.cache.Get(
                    cache_pb2.CacheGetRequest(keys=[FN_BODY + node.digest]),
                    timeout=30,
                    wait_for_ready=True,  # the node cache may be restarting: wait, bounded
                )
            except grpc.RpcError as exc:
                raise error_from_rpc(exc, "cache") from None
            if not reply.entries:
                raise KeyNotFoundError(f"the body of function {node.function!r} is missing")
            body = values.unwrap_encoded(reply.entries[0].lattice)
            fn = LoadedFunction(node.function, body[1:], body[0])
            self.functions[node.digest] = fn
        return fn

    async def _resolve_args(
        self,
        trigger: executor_pb2.Trigger,
        function: str,
        span: Span,
        writes: dict[str, bytes],
    ) -> list[Any]:
        """Explicit arguments, with references and futures replaced by stored values."""
        arguments = list(trigger.args[function].args) if function in trigger.args else []
        refs = [a.ref for a in arguments if a.WhichOneof("kind") == "ref"]
        fetched: dict[str, Data] = {}
        if refs:
            keys = list(dict.fromkeys(r.key for r in refs))
            # Futures are other calls' results, read when they land (each is written once);
            # plain references are read at the call's snapshot in snapshot modes.
            futures = list(dict.fromkeys(r.key for r in refs if r.future))
            plain = [k for k in keys if k not in futures]
            misses: set[str] = set()
            if futures:
                wait_ms = max(0, int(trigger.deadline_ms - time.time() * 1000))
                request = cache_pb2.CacheGetRequest(keys=futures, wait_ms=wait_ms)
                reply = await self._cache_get(request, wait_ms / 1000 + 30)
                fetched.update((e.key, e.lattice) for e in reply.entries)
                misses.update(reply.misses)
            if plain:
                request = cache_pb2.CacheGetRequest(
                    keys=plain, as_of=trigger.snapshot, known=self.values.known(plain)
                )
                if self.bulk is not None and not trigger.snapshot:
                    request.bulk_id = self.bulk.id  # large values may come as files
                reply = await self._cache_get(request, 30)
                found = self.values.absorb(reply, take_bulk(self.bulk, reply))
                if trigger.snapshot:
                    fetched.update(overlay(inline(found), plain, writes))
                else:
                    fetched.update(found)
                misses.update(reply.misses)
            missing = [k for k in keys if k not in fetched]
            self._note_reads(function, keys)
            if span.is_recording():
                span.set_attribute("cloudburst.cache.hits", [k for k in keys if k not in misses])
                span.set_attribute("cloudburst.cache.misses", sorted(misses))
            if missing:
                raise KeyNotFoundError(
                    f"referenced key(s) not in the store: {', '.join(map(repr, missing))}"
                )
        resolved: list[Any] = []
        for argument in arguments:
            if argument.WhichOneof("kind") == "ref":
                resolved.append(_referenced(fetched[argument.ref.key], argument.ref.deserialize))
            else:
                resolved.append(serializer.loads(argument.value))
        return resolved

    async def _cache_get(
        self, request: cache_pb2.CacheGetRequest, timeout: float
    ) -> cache_pb2.CacheGetResponse:
        try:
            reply: cache_pb2.CacheGetResponse = await self.cache.Get(
                request, timeout=timeout, wait_for_ready=True
            )
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, "cache") from None
        return reply

    async def _finish(
        self, trigger: executor_pb2.Trigger, outcome: common_pb2.Outcome, store: bool = False
    ) -> common_pb2.Outcome:
        """Sends the call's outcome to its scheduler (and stores a result); returns it."""
        if store:
            lattice = values.wrap_encoded(outcome.value, self.clock)
            if trigger.output_key:
                await self.results.write_now(
                    [
                        cache_pb2.KeyLattice(
                            key=trigger.call_id,
                            lattice=lattice,
                            expire_ms=self.results.expire_ms,
                        ),
                        cache_pb2.KeyLattice(key=trigger.output_key, lattice=lattice),
                    ]
                )
            else:
                self.results.add(trigger.call_id, lattice)
        if trigger.direct:
            if self._answer_direct(trigger.call_id, outcome) and outcome.HasField("error"):
                self._store_error(trigger.call_id, outcome.error)
            return outcome
        link = self.links_by_id.get(trigger.scheduler_id)
        if link is None:
            log.warning("result for an unknown scheduler", scheduler_id=trigger.scheduler_id)
            return outcome
        await link.send_result(
            scheduler_pb2.CallResult(
                call_id=trigger.call_id, outcome=outcome, executor_id=self.settings.executor_id
            )
        )
        return outcome

    # -- messaging ------------------------------------------------------------------------

    def _send_from_thread(self, recipient: str, body: bytes) -> None:
        _, sep, address = recipient.partition("@")
        if not sep or not address:
            raise InvalidArgumentError(f"not a messaging id: {recipient!r}")
        message = executor_pb2.PeerMessage(
            user=executor_pb2.UserMessage(sender=self.messaging_id, recipient=recipient, body=body)
        )
        if recipient == self.messaging_id:
            self.inbox.push(self.messaging_id, body)
            return
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(self.peers.send(address, message), self._loop)
        future.result(timeout=15)


def _mark_failed(span: Span, outcome: common_pb2.Outcome | None) -> None:
    if outcome is not None and outcome.WhichOneof("kind") == "error":
        span.set_status(Status(StatusCode.ERROR, outcome.error.message))
        span.set_attribute(tracing.ERROR_TYPE, outcome.error.type_name)


def _failed(error: BaseException) -> common_pb2.Outcome:
    return common_pb2.Outcome(error=to_remote_error(error))


def _referenced(lattice_bytes: Data, deserialize: bool) -> Any:
    """A referenced key's value: the Python value, or with ``deserialize=False`` the stored
    bytes (a plain value's encoding — its own bytes for bytes and str values — or, for merged
    kinds, the encoded lattice)."""
    if deserialize:
        return values.value_of(lattice_bytes)
    view = lww_payload(lattice_bytes)
    return serializer.payload(bytes(view)) if view is not None else bytes(lattice_bytes)


def _invalid_direct_call(trigger: executor_pb2.Trigger, in_flight: dict[str, Any]) -> str | None:
    """What is wrong with a direct call's request (the checks the scheduler makes on its
    own path), or ``None``."""
    if not trigger.call_id or trigger.call_id in in_flight:
        return f"call id {trigger.call_id!r} is missing or already in flight"
    functions = {node.function for node in trigger.nodes}
    for fn in trigger.args:
        if fn not in functions:
            return f"arguments given for {fn!r}, which is not part of DAG {trigger.dag!r}"
    if trigger.consistency not in common_pb2.Consistency.values():
        return f"unknown consistency mode {trigger.consistency}"
    return None


async def serve(settings: ExecutorSettings) -> None:
    server = ExecutorServer(settings)
    await server.start()
    with contextlib.suppress(asyncio.CancelledError):
        await run_until_stopped(asyncio.Event(), server.stop)
