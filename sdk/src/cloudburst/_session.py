"""Direct calls over one long-lived stream per executor.

A unary RPC per call cost about 0.7 ms on the 2-core reference machine (the synchronous
client's per-call future, its completion-queue round trip and HTTP/2 stream set-up); a
message on an open stream costs about 0.35 ms round trip. So a client keeps one
``Executor.Calls`` stream per executor it calls directly: triggers go down it in the order
they are sent — those sent while the stream is busy together, in one message — and a
reader thread hands each ``CallReply`` to the call that is waiting for it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator

import grpc
from cloudburst_protocol.errors import (
    CallCancelledError,
    CallTimeoutError,
    CloudburstError,
    ExecutorDiedError,
)
from cloudburst_protocol.gen import executor_pb2, executor_pb2_grpc

ANSWER_GRACE_S = 5.0
"""How long past a call's deadline a client waits for the executor's own timeout answer."""

_CLOSE = None
BATCH_BYTES = 16 * 1024 * 1024
"""Calls sent while the stream is busy go in one message, up to about this many bytes."""


class DirectCall:
    """A call sent on an :class:`ExecutorSession`: resolves when the executor answers, when
    the session breaks (``result`` raises the stream's ``grpc.RpcError``), or fails with
    :class:`CallTimeoutError` once its deadline (plus a grace) has passed."""

    __slots__ = (
        "_callbacks",
        "_done",
        "_failure",
        "_finished",
        "_gate",
        "_lock",
        "_reply",
        "_session",
        "call_id",
        "deadline",
    )

    def __init__(
        self, call_id: str, deadline: float, session: ExecutorSession | None = None
    ) -> None:
        self.call_id = call_id
        self.deadline = deadline
        self._session = session
        # Held until the call is settled and its callbacks have run: waiting is acquiring it
        # (a bare lock costs a fraction of an Event, whose Condition is built per call).
        self._gate = threading.Lock()
        self._gate.acquire()
        self._done = False
        self._reply: executor_pb2.CallReply | None = None
        self._failure: BaseException | None = None
        self._callbacks: list[Callable[[DirectCall], None]] = []
        self._finished = False
        self._lock = threading.Lock()

    def done(self) -> bool:
        return self._done

    def result(self, timeout: float | None = None) -> executor_pb2.CallReply:
        """The executor's reply (the sink's outcome). Raises ``grpc.FutureTimeoutError``
        after ``timeout`` seconds, the session's ``grpc.RpcError`` if it broke, or
        :class:`CallTimeoutError` once the call is past its deadline with no answer."""
        until_deadline = self.deadline + ANSWER_GRACE_S - time.time()
        wait = until_deadline if timeout is None else min(timeout, until_deadline)
        if self._gate.acquire(timeout=max(0.0, wait)):
            self._gate.release()  # open for any other waiter too
        else:
            if timeout is not None and timeout < until_deadline:
                raise grpc.FutureTimeoutError()
            raise CallTimeoutError(
                f"call {self.call_id}: no answer from its executor by the call's deadline"
            )
        if self._failure is not None:
            raise self._failure
        assert self._reply is not None
        return self._reply

    def cancel(self) -> bool:
        """Cancels the call on its executor; ``False`` if it had finished already."""
        if self._finished or self._session is None:
            return False
        return self._session.cancel(self)

    def add_done_callback(self, callback: Callable[[DirectCall], None]) -> None:
        with self._lock:
            if not self._finished:
                self._callbacks.append(callback)
                return
        callback(self)

    def _settle(self, reply: executor_pb2.CallReply | None, failure: BaseException | None) -> None:
        with self._lock:
            self._reply, self._failure = reply, failure
            self._finished = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:  # before waking the caller: its next call sees their effect
            callback(self)
        self._done = True
        self._gate.release()


class ExecutorSession:
    """One ``Executor.Calls`` stream on ``channel``. Broken sessions stay broken (every call
    sent after the break fails at once with the same error); the connection opens a new one."""

    def __init__(self, channel: grpc.Channel, address: str) -> None:
        self.address = address
        # Triggers to send, call ids to cancel (str), or _CLOSE.
        self._requests: queue.SimpleQueue[executor_pb2.Trigger | str | None] = queue.SimpleQueue()
        self._pending: dict[str, DirectCall] = {}
        self._lock = threading.Lock()
        self._failure: BaseException | None = None
        stub = executor_pb2_grpc.ExecutorStub(channel)
        self._replies: Iterator[executor_pb2.ReplyBatch] = stub.Calls(self._outgoing())
        self._reader = threading.Thread(
            target=self._read, name=f"cloudburst-session-{address}", daemon=True
        )
        self._reader.start()

    @property
    def broken(self) -> bool:
        return self._failure is not None

    def send(self, trigger: executor_pb2.Trigger, deadline: float) -> DirectCall:
        """Sends ``trigger``; ``deadline`` is the call's (unix seconds)."""
        call = DirectCall(trigger.call_id, deadline, self)
        with self._lock:
            failure = self._failure
            if failure is None:
                self._pending[trigger.call_id] = call
        if failure is not None:
            call._settle(None, failure)
            return call
        self._requests.put(trigger)
        return call

    def cancel(self, call: DirectCall) -> bool:
        """Tells the executor to cancel ``call`` and fails it here at once."""
        with self._lock:
            pending = self._pending.pop(call.call_id, None) is call
        if not pending:
            return False
        self._requests.put(call.call_id)
        cancelled = CallCancelledError(f"call {call.call_id} was cancelled")
        call._settle(None, cancelled)
        return True

    def close(self) -> None:
        self._requests.put(_CLOSE)
        cancel = getattr(self._replies, "cancel", None)
        if cancel is not None:
            cancel()

    def _outgoing(self) -> Iterator[executor_pb2.CallBatch]:
        """Whatever has been sent meanwhile goes in one message (bounded in bytes)."""
        requests = self._requests
        while (item := requests.get()) is not _CLOSE:
            batch = executor_pb2.CallBatch()
            size = 0
            while True:
                if isinstance(item, str):
                    batch.cancel.append(item)
                else:
                    batch.triggers.append(item)
                    size += item.ByteSize()
                if size >= BATCH_BYTES:
                    break
                try:
                    item = requests.get_nowait()
                except queue.Empty:
                    break
                if item is _CLOSE:
                    yield batch
                    return
            yield batch

    def _read(self) -> None:
        failure: BaseException
        try:
            for batch in self._replies:
                for reply in batch.replies:
                    with self._lock:
                        call = self._pending.pop(reply.call_id, None)
                    if call is not None:
                        call._settle(reply, None)
            failure = ExecutorDiedError(f"the executor at {self.address} closed the session")
        except grpc.RpcError as exc:
            failure = exc
        except Exception as exc:  # never leave a caller waiting on a dead reader
            failure = CloudburstError(f"session with {self.address} failed: {exc}")
        with self._lock:
            self._failure = failure
            pending, self._pending = self._pending, {}
        self._requests.put(_CLOSE)  # ends the request iterator's thread too
        for call in pending.values():
            call._settle(None, failure)
