"""``CloudburstConnection``: the client. Seed-compatible methods, typed errors, deadlines."""

from __future__ import annotations

import builtins
import inspect
import os
import sys
import sysconfig
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import cloudpickle
import grpc
from cloudburst_protocol import auth, bulk, config, serializer, tracing, values
from cloudburst_protocol.channels import sync_channel
from cloudburst_protocol.errors import (
    CallTimeoutError,
    CloudburstError,
    InvalidArgumentError,
    InvalidDagError,
    KeyNotFoundError,
    SerializationError,
    UnavailableError,
)
from cloudburst_protocol.gen import (
    common_pb2,
    executor_pb2,
    scheduler_pb2,
    scheduler_pb2_grpc,
)
from cloudburst_protocol.grpc_errors import error_from_rpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, ProxyTracerProvider, SpanKind

from cloudburst._future import CloudburstFuture, Inflight
from cloudburst._session import ExecutorSession
from cloudburst._status import SchedulerStatus
from cloudburst.shared.reference import CloudburstReference

KIND_FUNCTION = scheduler_pb2.FUNCTION_KIND_FUNCTION
KIND_CLASS = scheduler_pb2.FUNCTION_KIND_CLASS
ADMIN_TIMEOUT_S = 30.0
RETRY_BACKOFF_S = 0.05
RETRY_BACKOFF_MAX_S = 1.0
"""Reads that failed because the scheduler went away are asked again, backing off."""
UNREACHABLE_S = 30.0
"""How long an executor this client could not connect to is skipped."""
_tracer = trace.get_tracer("cloudburst")
_NOT_YET: Any = object()

_CONSISTENCY_NAMES = {
    "normal": common_pb2.NORMAL,
    "single": common_pb2.SINGLE,
    "multi": common_pb2.MULTI,
    "repeatable_read": common_pb2.REPEATABLE_READ,
    "causal": common_pb2.MULTI,
}
_CONSISTENCY_BY_VALUE = {int(v): v for v in _CONSISTENCY_NAMES.values()}
_CALL_PHASES = {scheduler_pb2.CALL_PHASE_PENDING: "pending", scheduler_pb2.CALL_PHASE_DONE: "done"}


def resolve_address(func_addr: str | None) -> str:
    """``host`` or ``host:port`` (stray whitespace allowed) -> ``host:port``. An empty address
    means the local cluster; a missing port means ``CLOUDBURST_SCHEDULER_PORT`` or the default.
    """
    address = (func_addr or "").strip()
    if not address:
        return config.scheduler_address()
    if address.count(":") == 1 or (address.startswith("[") and "]:" in address):
        return address
    port = config.env_int(config.SCHEDULER_PORT_ENV, config.DEFAULT_SCHEDULER_PORT)
    if ":" in address and not address.startswith("["):
        return f"[{address}]:{port}"  # a bare IPv6 literal
    return f"{address}:{port}"


@dataclass(frozen=True, slots=True)
class _Lease:
    direct: bool
    nodes: list[executor_pb2.DagNode]
    dag_version: str
    executors: list[tuple[str, str]]
    expires: float
    node_count: int = 1
    idempotent: bool = False


class DagRegistration(tuple[bool, int]):
    """``(True, 0)`` on success, as the original client returned; failures raise instead."""


class CloudburstFunction:
    """A registered function: calling it runs it remotely and returns a future."""

    def __init__(self, name: str, connection: CloudburstConnection) -> None:
        self.name = name
        self._connection = connection

    def __call__(self, *args: Any) -> CloudburstFuture:
        return self._connection.exec_func(self.name, list(args))

    def __repr__(self) -> str:
        return f"CloudburstFunction({self.name!r})"


class CloudburstConnection:
    """A connection to a Cloudburst cluster through its scheduler at ``func_addr``.

    ``ip``, ``local`` and ``tid`` are accepted for compatibility with programs written for
    the original client; results come back on this connection, so they are not needed.
    ``timeout`` bounds every call (default: ``CLOUDBURST_CALL_TIMEOUT`` or 300 s);
    ``connect_timeout`` bounds the wait for the cluster at construction.
    """

    def __init__(
        self,
        func_addr: str | None = None,
        ip: str | None = None,
        local: bool = False,
        tid: int = 0,
        *,
        timeout: float | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        self.address = resolve_address(func_addr)
        self.ip = (ip or "").strip() or None
        self.local = local
        self.tid = tid
        self.client_id = uuid.uuid4().hex
        self.call_timeout = (
            timeout
            if timeout is not None
            else config.env_float(config.CALL_TIMEOUT_ENV, config.DEFAULT_CALL_TIMEOUT_S)
        )
        self._credentials = auth.client_credentials()
        self._channel = sync_channel(self.address, self._credentials)
        try:
            grpc.channel_ready_future(self._channel).result(timeout=connect_timeout)
        except grpc.FutureTimeoutError:
            self._channel.close()
            tls = os.environ.get(config.TLS_CA_ENV, "").strip()
            hint = (
                f"; this client uses TLS ({config.TLS_CA_ENV}={tls}): check that the cluster "
                "does too and that its certificate is signed by that CA"
                if tls
                else f"; if the cluster uses TLS, set {config.TLS_CA_ENV} (docs/security.md)"
            )
            raise UnavailableError(
                f"no Cloudburst scheduler answers at {self.address} after {connect_timeout:g} s; "
                f"is the cluster running? (start one with `cbctl up`){hint}"
            ) from None
        self._stub = scheduler_pb2_grpc.SchedulerStub(self._channel)
        self._watches = [_keep_polling(self._channel)]
        self._lock = threading.Lock()
        self._leases: dict[tuple[str, str], _Lease] = {}
        self._sessions: dict[str, ExecutorSession] = {}
        self._executor_channels: dict[str, grpc.Channel] = {}
        self._outstanding: dict[str, int] = {}
        self._unreachable: dict[str, float] = {}
        self._writer = values.Writer()
        self._bulk: Any = _NOT_YET  # this host's bulk directory, looked up at the first large put
        self._bulk_refused = False

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        for watch in self._watches:
            watch.cancel()
        for session in self._sessions.values():
            session.close()
        for channel in self._executor_channels.values():
            channel.close()
        self._channel.close()

    def __enter__(self) -> CloudburstConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rpc(
        self,
        method: Callable[..., Any],
        request: Any,
        timeout: float = ADMIN_TIMEOUT_S,
        wait_for_ready: bool = False,
    ) -> Any:
        """Calls the scheduler. With ``wait_for_ready`` a request that cannot be sent (the
        scheduler is down or restarting) waits, reconnecting with backoff, until it can be
        sent or ``timeout`` passes: a request never sent is safe to send later."""
        try:
            return method(request, timeout=timeout, wait_for_ready=wait_for_ready)
        except grpc.RpcError as exc:
            raise self._typed_error(exc) from None

    def _typed_error(self, exc: grpc.RpcError, target: str = "") -> CloudburstError:
        """The typed error for a failed RPC; a refused credential says where it came from."""
        return self._credentials.explain(error_from_rpc(exc, target or self.address))

    # -- functions --------------------------------------------------------------------------

    def register(self, function: Any, name: str, *, idempotent: bool = False) -> CloudburstFunction:
        """Registers a function, or a class as ``(Class, init_args)``, under ``name``.
        Re-registering a name replaces it (and lifts a quarantine). Returns a callable
        handle. ``idempotent=True`` says running a call twice does no harm: a call whose
        executor died is then placed again (within its deadline) instead of failing with
        :class:`ExecutorDiedError`."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidArgumentError(f"a function needs a non-empty name, got {name!r}")
        if isinstance(function, tuple):
            if not function or not isinstance(function[0], type):
                raise InvalidArgumentError(
                    "register a class as a tuple (Class, init_args); got a tuple whose first "
                    "element is not a class"
                )
            if not callable(getattr(function[0], "run", None)):
                raise InvalidArgumentError(
                    f"class {function[0].__qualname__} must define a run method"
                )
            _check_init_args(function)
            kind = KIND_CLASS
        elif callable(function):
            kind = KIND_FUNCTION
        else:
            raise InvalidArgumentError(
                f"register takes a function or a (Class, init_args) tuple, not "
                f"{type(function).__name__}"
            )
        try:
            body = _pickle_user_code(function[0] if kind == KIND_CLASS else function, function)
        except Exception as exc:
            raise SerializationError(f"cannot serialize function {name!r}: {exc}") from exc
        request = scheduler_pb2.RegisterFunctionRequest(
            name=name, body=body, kind=kind, idempotent=idempotent
        )
        self._rpc(self._stub.RegisterFunction, request)
        self._forget_leases()  # this client sees its own registrations at once
        return CloudburstFunction(name, self)

    def exec_func(self, name: str, args: Any = None, *, detach: bool = False) -> CloudburstFuture:
        """Calls the function ``name`` with ``args`` (a list; a single value is wrapped).

        With ``detach=True`` the call is only started: this returns once the cluster has
        dispatched it, and the future reads the result from the store (by ``obj_id``) later,
        even from another process (``connection.future(obj_id)``)."""
        args = [] if args is None else args
        request = scheduler_pb2.CallRequest(
            call_id=_new_call_id(), function=name, client_id=self.client_id, detach=detach
        )
        request.args[name].CopyFrom(_encode_args(_as_list(args)))
        return self._start(request)

    def delete_function(self, name: str, *, force: bool = False) -> bool:
        """Removes a registered function. Refused with :class:`FunctionInUseError` (naming
        them) while DAGs use it, unless ``force`` (those DAGs' calls then fail)."""
        request = scheduler_pb2.DeleteFunctionRequest(name=name, force=force)
        self._rpc(self._stub.DeleteFunction, request)
        self._forget_leases()  # this client sees its own registrations at once
        return True

    def list(self, prefix: str | None = None) -> builtins.list[str]:
        """Names of registered functions (starting with ``prefix`` if given)."""
        reply = self._rpc(self._stub.ListFunctions, scheduler_pb2.ListRequest(prefix=prefix or ""))
        return builtins.list(reply.names)

    # -- DAGs -------------------------------------------------------------------------------

    def register_dag(
        self,
        name: str,
        functions: Iterable[str],
        connections: Iterable[tuple[str, str]],
    ) -> DagRegistration:
        """Registers a DAG of registered functions; ``connections`` are ``(upstream,
        downstream)`` pairs. Returns ``(True, 0)``; raises a typed error naming the problem
        (an unknown function, a cycle, not exactly one sink...). Re-registering replaces."""
        if isinstance(functions, str) or not isinstance(functions, Iterable):
            raise InvalidDagError("functions must be a list of function names")
        if isinstance(connections, str | bytes) or not isinstance(connections, Iterable):
            raise InvalidDagError(
                "connections must be a list of (upstream, downstream) pairs, "
                f"not {type(connections).__name__}"
            )
        edges = []
        for connection in connections:
            if (
                not isinstance(connection, tuple | builtins.list)
                or len(connection) != 2
                or not all(isinstance(end, str) for end in connection)
            ):
                raise InvalidDagError(
                    f"each connection is a pair of function names, got {connection!r}"
                )
            edges.append(scheduler_pb2.Edge(source=connection[0], target=connection[1]))
        request = scheduler_pb2.RegisterDagRequest(
            name=name, functions=builtins.list(functions), connections=edges
        )
        self._rpc(self._stub.RegisterDag, request)
        self._forget_leases()  # this client sees its own registrations at once
        return DagRegistration((True, 0))

    def call_dag(
        self,
        dname: str,
        arg_map: Mapping[str, Any],
        direct_response: bool = False,
        consistency: int | str = common_pb2.NORMAL,
        output_key: str | None = None,
        client_id: str | None = None,
        *,
        detach: bool = False,
    ) -> Any:
        """Calls DAG ``dname``; ``arg_map`` maps function names to their arguments (a single
        value is wrapped into a list). Returns a future, or the value itself when
        ``direct_response`` is true. The sink's result is also stored under the call's id
        and under ``output_key`` if given. ``detach`` works as for :meth:`exec_func`."""
        if not isinstance(arg_map, Mapping):
            raise InvalidArgumentError("arg_map maps function names to argument lists")
        request = scheduler_pb2.CallRequest(
            call_id=_new_call_id(),
            dag=dname,
            consistency=_consistency(consistency),
            output_key=output_key or "",
            client_id=client_id or self.client_id,
            detach=detach,
        )
        for fn, args in arg_map.items():
            request.args[fn].CopyFrom(_encode_args(_as_list(args)))
        future = self._start(request)
        return future.get() if direct_response else future

    def delete_dag(self, dname: str) -> bool:
        self._rpc(self._stub.DeleteDag, scheduler_pb2.NameRequest(name=dname))
        self._forget_leases()  # this client sees its own registrations at once
        return True

    def list_dags(self, prefix: str | None = None) -> builtins.list[str]:
        reply = self._rpc(self._stub.ListDags, scheduler_pb2.ListRequest(prefix=prefix or ""))
        return builtins.list(reply.names)

    def get_dag(self, dname: str) -> tuple[builtins.list[str], builtins.list[tuple[str, str]]]:
        """The functions and connections of a registered DAG."""
        reply = self._rpc(self._stub.GetDag, scheduler_pb2.NameRequest(name=dname))
        return builtins.list(reply.functions), [(e.source, e.target) for e in reply.connections]

    # -- state ------------------------------------------------------------------------------

    def get_object(self, key: str) -> Any:
        """The value stored at ``key``; raises :class:`KeyNotFoundError` if there is none."""
        reply = self._rpc(self._stub.GetObject, scheduler_pb2.GetObjectRequest(key=key))
        if not reply.found:
            raise KeyNotFoundError(f"key {key!r} is not in the store")
        return values.unwrap(reply.lattice)

    def get(self, key: str) -> Any:
        """Older name of :meth:`get_object` that returns ``None`` for a missing key."""
        try:
            return self.get_object(key)
        except KeyNotFoundError:
            return None

    def put_object(self, key: str, value: Any) -> bool:
        """Stores ``value`` at ``key``. A plain value replaces what was there (last writer
        wins); a ``set`` merges by union; ``Max``, ``Counter`` and ``Priority`` merge as
        their names say (see :mod:`cloudburst_protocol.values`)."""
        lattice = self._writer.wrap(key, value)
        if len(lattice) >= bulk.MIN_BYTES and self._put_in_bulk(key, lattice):
            return True
        self._rpc(self._stub.PutObject, scheduler_pb2.PutObjectRequest(key=key, lattice=lattice))
        return True

    put = put_object

    def delete_object(self, key: str) -> bool:
        self._rpc(self._stub.DeleteObject, scheduler_pb2.NameRequest(name=key))
        return True

    def list_objects(self, prefix: str | None = None) -> builtins.list[str]:
        """The stored keys (starting with ``prefix`` if given), sorted; call results are
        stored under their call ids until they expire."""
        reply = self._rpc(self._stub.ListObjects, scheduler_pb2.ListRequest(prefix=prefix or ""))
        return builtins.list(reply.names)

    def call_state(self, call_id: str) -> str:
        """``"pending"`` (the scheduler is running it: a detached call, or one through the
        scheduler), ``"done"`` (its result is stored) or ``"unknown"`` (neither: a wrong or
        expired id, or a direct call of another client still running)."""
        reply = self._rpc(self._stub.CallState, scheduler_pb2.NameRequest(name=call_id))
        return _CALL_PHASES.get(reply.phase, "unknown")

    def future(self, obj_id: str) -> CloudburstFuture:
        """A future for a call started elsewhere (e.g. ``cbctl call --async``), by its id."""
        return CloudburstFuture(obj_id, self)

    def status(self) -> SchedulerStatus:
        """What the scheduler reports: its executors, registrations and pending calls."""
        reply = self._rpc(self._stub.Status, common_pb2.Empty())
        return SchedulerStatus.from_reply(self.address, reply)

    # -- internals --------------------------------------------------------------------------

    def _start(self, request: scheduler_pb2.CallRequest) -> CloudburstFuture:
        # With an OpenTelemetry SDK configured in this process, each call is a client span
        # whose context travels in the request; without one there is no span at all.
        span: trace.Span = INVALID_SPAN
        if not isinstance(trace.get_tracer_provider(), ProxyTracerProvider):
            span = _tracer.start_span(
                "cloudburst.call",
                kind=SpanKind.CLIENT,
                attributes={
                    tracing.CALL_ID: request.call_id,
                    tracing.DAG if request.dag else tracing.FUNCTION: (
                        request.dag or request.function
                    ),
                },
            )
        if span.is_recording():
            tracing.inject(request.trace_context, span)
        if request.detach:
            try:
                self._rpc(self._stub.Call, request, self.call_timeout, wait_for_ready=True)
            finally:
                span.end()
            return CloudburstFuture(request.call_id, self)
        try:
            lease = self._lease(request)
        except CloudburstError as exc:
            span.end()
            return CloudburstFuture(request.call_id, self, error=exc)
        if lease is not None and lease.node_count > 1 and _has_references(request):
            lease = None  # the scheduler places calls by where their referenced data is
        if lease is None:
            inflight = self._call_future(request, self.call_timeout)
            if span.is_recording():
                inflight.add_done_callback(lambda _: span.end())
            return CloudburstFuture(request.call_id, self, inflight)
        deadline_ms = int((time.time() + self.call_timeout) * 1000)

        sent_to = [""]

        def send(reason: str) -> tuple[Inflight, bool]:
            """Places the call again: ``stale`` (the lease was outdated), ``refused`` (the
            executor's address refused the connection: it moved) or ``unresolvable`` (its
            name does not resolve from here: this client is outside the cluster's network)."""
            if reason == "refused":
                self._mark_unreachable([sent_to[0]])
            elif reason == "unresolvable" and lease is not None:
                self._mark_unreachable([address for _, address in lease.executors])
            current = self._lease(request)
            if current is None or not self._reachable(current):
                remaining = max(0.001, deadline_ms / 1000 - time.time())
                return self._call_future(request, remaining), False
            future, sent_to[0] = self._send_direct(current, request, deadline_ms)
            return future, True

        if not self._reachable(lease):
            # No leased executor can be reached from here (e.g. a cluster in containers):
            # the scheduler's path still works.
            inflight = self._call_future(request, self.call_timeout)
            if span.is_recording():
                inflight.add_done_callback(lambda _: span.end())
            return CloudburstFuture(request.call_id, self, inflight)
        inflight, sent_to[0] = self._send_direct(lease, request, deadline_ms)
        if span.is_recording():
            inflight.add_done_callback(lambda _: span.end())
        return CloudburstFuture(
            request.call_id, self, inflight, retry=send, idempotent=lease.idempotent
        )

    # Direct calls: the scheduler leases placement (which executors may run a function or
    # DAG, and the versions they check); this client then calls an executor itself, one hop
    # instead of three. A stale lease is refused by the executor and refreshed here.

    def _lease(self, request: scheduler_pb2.CallRequest) -> _Lease | None:
        """The cached lease for the call's target (``None``: go through the scheduler)."""
        key = (request.WhichOneof("target") or "", request.dag or request.function)
        now = time.monotonic()
        with self._lock:
            cached = self._leases.get(key)
        if cached is not None and cached.expires > now:
            return cached if cached.direct else None
        target = {key[0]: key[1]}
        reply = self._read(
            self._stub.Lease,
            lambda: scheduler_pb2.LeaseRequest(**target),
            now + min(ADMIN_TIMEOUT_S, self.call_timeout),
        )
        lease = _Lease(
            direct=reply.direct and bool(reply.executors),
            nodes=list(reply.nodes),
            dag_version=reply.dag_version,
            # When the scheduler knows where the data is, stay on that node's executors.
            executors=[
                (e.executor_id, e.address)
                for e in reply.executors
                if not reply.preferred_node or e.node_id == reply.preferred_node
            ],
            node_count=len({e.node_id for e in reply.executors}),
            idempotent=reply.idempotent,
            expires=now + reply.ttl_ms / 1000,
        )
        with self._lock:
            self._leases[key] = lease
        return lease if lease.direct else None

    def _read(
        self,
        method: Callable[..., Any],
        request: Callable[[], Any],
        deadline: float,
        slack: float = 0.0,
    ) -> Any:
        """A request that changes nothing (a lease, a read by id): if the scheduler goes away
        while it is in flight, it is asked again, backing off, until ``deadline`` (monotonic;
        each attempt may take ``slack`` seconds longer)."""
        backoff = RETRY_BACKOFF_S
        while True:
            remaining = max(0.001, deadline - time.monotonic())
            try:
                return self._rpc(method, request(), remaining + slack, wait_for_ready=True)
            except UnavailableError:
                if time.monotonic() + backoff >= deadline:
                    raise
                time.sleep(backoff)
                backoff = min(2 * backoff, RETRY_BACKOFF_MAX_S)

    def _call_future(self, request: scheduler_pb2.CallRequest, timeout: float) -> Inflight:
        """A call through the scheduler; one that cannot be sent yet waits (see _rpc)."""
        inflight: Inflight = self._stub.Call.future(request, timeout=timeout, wait_for_ready=True)
        return inflight

    def _forget_leases(self) -> None:
        with self._lock:
            self._leases.clear()

    def _send_direct(
        self, lease: _Lease, request: scheduler_pb2.CallRequest, deadline_ms: int
    ) -> tuple[Inflight, str]:
        """Sends the call to one of the lease's executors; returns the call and the address."""
        with self._lock:
            # The executor with the fewest of this client's calls in flight; ties go to the
            # first in the lease's order, so calls made one at a time keep to one warm
            # executor (alternating cost about a fifth of a call's latency).
            candidates = self._reachable(lease) or lease.executors
            executor_id, address = min(candidates, key=lambda e: self._outstanding.get(e[1], 0))
            self._outstanding[address] = self._outstanding.get(address, 0) + 1
            session = self._sessions.get(address)
            if session is None or session.broken:
                channel = self._executor_channels.get(address)
                if channel is None:
                    channel = sync_channel(address, self._credentials)
                    self._executor_channels[address] = channel
                session = self._sessions[address] = ExecutorSession(channel, address)
        trigger = executor_pb2.Trigger(
            call_id=request.call_id,
            dag=request.dag,
            dag_version=lease.dag_version,
            output_key=request.output_key,
            consistency=request.consistency,
            trace_context=request.trace_context,
            deadline_ms=deadline_ms,
            direct=True,
        )
        for node in lease.nodes:
            placed = trigger.nodes.add()
            placed.CopyFrom(node)
            placed.executor_id = executor_id
            placed.executor_address = address
        for fn, arg_list in request.args.items():
            trigger.args[fn].CopyFrom(arg_list)
        inflight = session.send(trigger, deadline_ms / 1000)
        inflight.add_done_callback(lambda _: self._done(address))
        return inflight, address

    def _done(self, address: str) -> None:
        with self._lock:
            self._outstanding[address] -= 1

    def _mark_unreachable(self, addresses: builtins.list[str]) -> None:
        until = time.monotonic() + UNREACHABLE_S
        with self._lock:
            for address in addresses:
                self._unreachable[address] = until

    def _reachable(self, lease: _Lease) -> builtins.list[tuple[str, str]]:
        """The lease's executors this client has not recently failed to reach."""
        now = time.monotonic()
        return [e for e in lease.executors if self._unreachable.get(e[1], 0.0) < now]

    def _put_in_bulk(self, key: str, lattice: bytes) -> bool:
        """Hands a large value over as a file when the scheduler shares this host's bulk
        directory (a few milliseconds instead of ~30 ms per gRPC hop for 8 MB); ``False``
        when it does not (then it is sent inline, and from then on always)."""
        if self._bulk is _NOT_YET:
            self._bulk = bulk.BulkDir.from_env()
        directory = self._bulk
        if directory is None or self._bulk_refused:
            return False
        try:
            name = directory.write(lattice)
        except OSError:
            return False
        request = scheduler_pb2.PutObjectRequest(key=key, bulk=name, bulk_id=directory.id)
        try:
            reply = self._rpc(self._stub.PutObject, request)
        except BaseException:
            directory.discard(name)
            raise
        if reply.resend_inline:
            directory.discard(name)
            self._bulk_refused = True
            return False
        return True

    def _wait_for_key(self, key: str, timeout: float | None) -> bytes:
        wait = self.call_timeout if timeout is None else timeout
        deadline = time.monotonic() + wait

        def request() -> scheduler_pb2.GetObjectRequest:
            remaining = max(0.001, deadline - time.monotonic())
            return scheduler_pb2.GetObjectRequest(key=key, wait_ms=max(1, int(remaining * 1000)))

        reply = self._read(self._stub.GetObject, request, deadline, ADMIN_TIMEOUT_S)
        if not reply.found:
            raise CallTimeoutError(f"no result for {key!r} after {wait:g} s")
        return values.unwrap_encoded(reply.lattice)


def _keep_polling(channel: grpc.Channel) -> Any:
    """Opens a long-lived call (the server's health watch) on ``channel``.

    gRPC's synchronous client runs a thread to poll a channel's calls only while some call is
    open, and starts a new one for the next call otherwise: with one call at a time, every
    call paid for a thread start (about a quarter of a millisecond). An open watch keeps that
    thread alive for the life of the connection; ``close`` cancels it."""
    return health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())


def _new_call_id() -> str:
    """32 random hex digits (a uuid4's worth of randomness, without building a UUID)."""
    return os.urandom(16).hex()


def _installed_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    return tuple(os.path.realpath(r) + os.sep for r in roots)


def _pickle_user_code(code: Any, payload: Any) -> bytes:
    """cloudpickles ``payload``. The module defining ``code`` travels by value when it is the
    user's own (not installed, not the standard library), so executors need not import it;
    installed packages must be installed where the executors run."""
    module = sys.modules.get(getattr(code, "__module__", "") or "")
    path = getattr(module, "__file__", None)
    by_value = (
        module is not None
        and module.__name__ != "__main__"
        and path is not None
        and not os.path.realpath(path).startswith(_installed_roots())
    )
    if not by_value:
        return bytes(cloudpickle.dumps(payload))
    cloudpickle.register_pickle_by_value(module)
    try:
        return bytes(cloudpickle.dumps(payload))
    finally:
        cloudpickle.unregister_pickle_by_value(module)


def _check_init_args(spec: tuple[Any, ...]) -> None:
    """Refuses ``(Class, init_args)`` when ``Class.__init__`` cannot take those arguments
    (each executor would otherwise fail with a ``TypeError`` at the first call). The
    arguments are passed as the executor passes them: after the user library when
    ``__init__`` declares exactly one more positional parameter (and no ``*args``)."""
    cls = spec[0]
    if len(spec) == 1:
        init_args: tuple[Any, ...] = ()
    elif len(spec) == 2:
        init_args = spec[1] if isinstance(spec[1], tuple) else (spec[1],)
    else:
        init_args = tuple(spec[1:])
    init = next((vars(k)["__init__"] for k in cls.__mro__ if "__init__" in vars(k)), None)
    if init is None or init is object.__init__:
        return
    try:
        signature = inspect.signature(init)
    except (TypeError, ValueError):  # no signature to check against
        return
    params = builtins.list(signature.parameters.values())[1:]  # the instance
    positional = [
        p
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
    with_library = not varargs and len(positional) == len(init_args) + 1
    try:
        signature.replace(parameters=params).bind(
            *((None, *init_args) if with_library else init_args)
        )
    except TypeError as exc:
        shown = ", ".join(p.name for p in params)
        raise InvalidArgumentError(
            f"class {cls.__qualname__} cannot be constructed with init args {init_args!r}: "
            f"__init__({shown}) {exc}; register it as ({cls.__qualname__}, (arg, ...))"
        ) from None


def _has_references(request: scheduler_pb2.CallRequest) -> bool:
    return any(
        argument.WhichOneof("kind") == "ref"
        for arg_list in request.args.values()
        for argument in arg_list.args
    )


def _as_list(args: Any) -> builtins.list[Any]:
    """A list is an argument list; any other value is one argument (as the original did)."""
    return builtins.list(args) if isinstance(args, builtins.list) else [args]


def _encode_args(args: builtins.list[Any]) -> common_pb2.ArgList:
    encoded = []
    for arg in args:
        if isinstance(arg, CloudburstFuture):
            ref = common_pb2.Reference(key=arg.obj_id, deserialize=True, future=True)
            encoded.append(common_pb2.Argument(ref=ref))
        elif isinstance(arg, CloudburstReference):
            ref = common_pb2.Reference(key=arg.key, deserialize=arg.deserialize)
            encoded.append(common_pb2.Argument(ref=ref))
        else:
            encoded.append(common_pb2.Argument(value=serializer.dumps(arg)))
    return common_pb2.ArgList(args=encoded)


def _consistency(value: int | str) -> common_pb2.Consistency:
    if isinstance(value, str):
        try:
            return _CONSISTENCY_NAMES[value.lower()]
        except KeyError:
            raise InvalidArgumentError(
                f"unknown consistency {value!r}; use one of {sorted(_CONSISTENCY_NAMES)}"
            ) from None
    if value not in _CONSISTENCY_BY_VALUE:
        raise InvalidArgumentError(f"unknown consistency mode {value!r}")
    return _CONSISTENCY_BY_VALUE[value]


__all__ = [
    "CloudburstConnection",
    "CloudburstError",
    "CloudburstFunction",
    "DagRegistration",
    "resolve_address",
]
