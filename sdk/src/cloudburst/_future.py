"""``CloudburstFuture``: the result of a call, delivered without polling."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import grpc
from cloudburst_protocol import serializer
from cloudburst_protocol.errors import (
    CallCancelledError,
    CallTimeoutError,
    CloudburstError,
    ExecutorDiedError,
    StaleLeaseError,
    UnavailableError,
    from_remote_error,
)
from cloudburst_protocol.gen import common_pb2

if TYPE_CHECKING:
    from cloudburst._connection import CloudburstConnection

_UNSET: Any = object()


class Inflight(Protocol):
    """A call on its way: a gRPC future (scheduler path) or a session's direct call."""

    def done(self) -> bool: ...

    def result(self, timeout: float | None = None) -> Any: ...

    def add_done_callback(self, callback: Callable[[Any], None]) -> None: ...

    def cancel(self) -> bool: ...


STALE_RETRIES = 3
MOVED_RETRIES = 3
DIED_RETRIES = 3
"""Calls of idempotent functions: how often one is placed again after its executor died."""


class CloudburstFuture:
    """A call in flight (or finished). ``get()`` blocks until the result arrives.

    The result is also stored under the call's id (``obj_id``), so a future can be passed as
    an argument to another call, or rebuilt later from its id with ``connection.future(id)``.
    """

    def __init__(
        self,
        obj_id: str,
        connection: CloudburstConnection,
        inflight: Inflight | None = None,
        *,
        retry: Callable[[str], tuple[Inflight, bool]] | None = None,
        error: CloudburstError | None = None,
        idempotent: bool = False,
    ) -> None:
        self.obj_id = obj_id
        self._connection = connection
        self._inflight = inflight
        # Direct calls: re-places the call after a stale lease or an executor that could not
        # be reached (at most STALE_RETRIES times); returns the new call and whether it is
        # direct (an executor answers with an Outcome) or through the scheduler.
        self._retry = retry
        self._direct = retry is not None
        self._idempotent = idempotent
        self._lock = threading.Lock()
        self._value: Any = _UNSET
        self._error: CloudburstError | None = error

    def __repr__(self) -> str:
        state = "done" if self.done() else "pending"
        return f"CloudburstFuture({self.obj_id!r}, {state})"

    def done(self) -> bool:
        if self._value is not _UNSET or self._error is not None:
            return True
        return self._inflight is not None and self._inflight.done()

    def cancel(self) -> bool:
        """Cancels the call where it runs: a call not started yet never runs, and an
        executor running it takes no other call until its code returns (or, past the grace
        period, is replaced). ``get()`` then raises :class:`CallCancelledError`. Returns
        ``False`` when the call had finished already, or was started with ``detach=True``
        (its result is only read from the store)."""
        inflight = self._inflight
        if inflight is None or self.done():
            return False
        return bool(inflight.cancel())

    def get(self, timeout: float | None = None) -> Any:
        """The call's result. Raises the call's error (a user function's exception arrives as
        :class:`RemoteFunctionError`), or :class:`CallTimeoutError` if ``timeout`` seconds pass
        first (the call goes on; ``get`` may be called again). ``timeout=None`` waits until
        the call's own deadline."""
        with self._lock:
            if self._value is _UNSET and self._error is None:
                self._resolve(timeout)
            if self._error is not None:
                raise self._error
            return self._value

    def _resolve(self, timeout: float | None) -> None:
        if self._inflight is None:
            encoded = self._connection._wait_for_key(self.obj_id, timeout)
            self._settle_encoded(encoded)
            return
        stale = died = 0
        for _ in range(STALE_RETRIES + MOVED_RETRIES + DIED_RETRIES + 1):
            try:
                response = self._inflight.result(timeout=timeout)
            except grpc.FutureCancelledError:
                self._error = CallCancelledError(f"call {self.obj_id} was cancelled")
                return
            except grpc.FutureTimeoutError:
                raise CallTimeoutError(
                    f"call {self.obj_id} has not finished after {timeout} s; call get() again "
                    "to keep waiting"
                ) from None
            except CloudburstError as exc:  # a direct call past its deadline, or a dead session
                if isinstance(exc, ExecutorDiedError):
                    self._connection._forget_leases()  # the next call sees fresh placement
                    if self._may_run_again(died):
                        died += 1
                        assert self._retry is not None
                        self._inflight, self._direct = self._retry("died")
                        continue
                self._error = exc
                return
            except grpc.RpcError as exc:
                error = self._connection._typed_error(exc)
                if self._direct and self._retry is not None and isinstance(error, UnavailableError):
                    self._connection._forget_leases()
                    reason = never_delivered(exc)
                    if reason is not None:
                        # The executor could not be reached (restarted on a new port, or not
                        # reachable from here at all): nothing ran, so place the call again.
                        self._inflight, self._direct = self._retry(reason)
                        continue
                    error = ExecutorDiedError(f"the executor running call {self.obj_id} is gone")
                    if self._may_run_again(died):
                        died += 1
                        self._inflight, self._direct = self._retry("died")
                        continue
                self._error = error
                return
            outcome = response.outcome
            if outcome.WhichOneof("kind") == "error":
                if (
                    self._direct
                    and self._retry is not None
                    and outcome.error.code == common_pb2.STALE_LEASE
                    and stale < STALE_RETRIES
                ):
                    stale += 1
                    self._connection._forget_leases()
                    self._inflight, self._direct = self._retry("stale")
                    continue
                self._error = from_remote_error(outcome.error)
            else:
                self._settle_encoded(outcome.value)
            return
        self._error = StaleLeaseError(
            f"call {self.obj_id}: could not be placed (the registry kept changing, or its "
            "executors kept moving)"
        )

    def _may_run_again(self, died: int) -> bool:
        """A direct call of idempotent functions whose executor died is placed again."""
        return self._direct and self._idempotent and self._retry is not None and died < DIED_RETRIES

    def _settle_encoded(self, encoded: bytes) -> None:
        try:
            self._value = serializer.loads(encoded)
        except CloudburstError as exc:
            self._error = exc


_UNRESOLVABLE = ("dns resolution failed", "errors resolving", "name resolution", "no address")
_REFUSED = ("failed to connect", "connection refused")


def never_delivered(exc: BaseException) -> str | None:
    """Why gRPC could not reach the server at all (so the request was never sent):
    ``unresolvable`` (its name does not resolve here), ``refused``, or ``None``."""
    details = getattr(exc, "details", None)
    text = ((details() if callable(details) else "") or "").lower()
    if any(marker in text for marker in _UNRESOLVABLE):
        return "unresolvable"
    if any(marker in text for marker in _REFUSED):
        return "refused"
    return None


__all__ = ["CloudburstFuture"]
