"""The SDK's executor session (cloudburst._session) against a real gRPC server on a loopback
socket whose Executor.Calls behaviour each test chooses: batching, deadlines, broken and
refused streams."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from cloudburst import _session
from cloudburst._future import never_delivered
from cloudburst._session import ExecutorSession
from cloudburst_protocol import config
from cloudburst_protocol.errors import CallTimeoutError
from cloudburst_protocol.gen import common_pb2, executor_pb2, executor_pb2_grpc
from conftest import free_port

Handler = Callable[[Iterator[executor_pb2.CallBatch], Any], Iterator[executor_pb2.ReplyBatch]]


class _Executor(executor_pb2_grpc.ExecutorServicer):
    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def Calls(
        self, request_iterator: Iterator[executor_pb2.CallBatch], context: Any
    ) -> Iterator[executor_pb2.ReplyBatch]:
        yield from self.handler(request_iterator, context)


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], tuple[grpc.Channel, str]]]:
    servers: list[grpc.Server] = []
    channels: list[grpc.Channel] = []

    def start(handler: Handler) -> tuple[grpc.Channel, str]:
        server = grpc.server(futures.ThreadPoolExecutor(4))
        executor_pb2_grpc.add_ExecutorServicer_to_server(_Executor(handler), server)
        address = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
        server.start()
        servers.append(server)
        channel = grpc.insecure_channel(address, options=config.CHANNEL_OPTIONS)
        channels.append(channel)
        return channel, address

    yield start
    for channel in channels:
        channel.close()
    for server in servers:
        server.stop(0)


def trigger(call_id: str) -> executor_pb2.Trigger:
    return executor_pb2.Trigger(call_id=call_id, direct=True)


def soon() -> float:
    return time.time() + 30


def echo_batches(seen: list[int], delay: float = 0.0) -> Handler:
    """Answers every call with its id, recording the size of each incoming batch."""

    def handler(
        requests: Iterator[executor_pb2.CallBatch], _: Any
    ) -> Iterator[executor_pb2.ReplyBatch]:
        for batch in requests:
            seen.append(len(batch.triggers))
            time.sleep(delay)  # a busy executor: calls sent meanwhile queue up client-side
            yield executor_pb2.ReplyBatch(
                replies=[
                    executor_pb2.CallReply(
                        call_id=t.call_id, outcome=common_pb2.Outcome(value=t.call_id.encode())
                    )
                    for t in batch.triggers
                ]
            )

    return handler


def test_each_call_gets_its_own_answer(serve: Any) -> None:
    seen: list[int] = []
    channel, address = serve(echo_batches(seen))
    session = ExecutorSession(channel, address)
    calls = [session.send(trigger(f"call-{i}"), soon()) for i in range(50)]
    for i, call in enumerate(calls):
        assert call.result(timeout=10).outcome.value == f"call-{i}".encode()
    assert sum(seen) == 50
    session.close()


def test_calls_sent_while_the_stream_is_busy_travel_together(serve: Any) -> None:
    seen: list[int] = []
    channel, address = serve(echo_batches(seen, delay=0.05))
    session = ExecutorSession(channel, address)
    calls = [session.send(trigger(f"c{i}"), soon()) for i in range(200)]
    assert all(
        call.result(timeout=20).outcome.value == f"c{i}".encode() for i, call in enumerate(calls)
    )
    assert sum(seen) == 200
    assert len(seen) < 50, f"200 calls took {len(seen)} messages"
    session.close()


def test_done_callbacks_run_before_the_caller_wakes(serve: Any) -> None:
    """A caller woken by an answer sees the effects of the call's callbacks (the client's
    in-flight counts, which choose the next call's executor)."""
    channel, address = serve(echo_batches([]))
    session = ExecutorSession(channel, address)
    for i in range(100):
        flag: list[bool] = []
        call = session.send(trigger(f"c{i}"), soon())
        call.add_done_callback(lambda _, flag=flag: flag.append(True))  # type: ignore[misc]
        call.result(timeout=10)
        assert flag == [True]
    session.close()


def test_a_call_without_an_answer_ends_at_its_deadline(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_session, "ANSWER_GRACE_S", 0.1)
    release = threading.Event()

    def silent(requests: Iterator[executor_pb2.CallBatch], _: Any) -> Iterator[Any]:
        next(requests)
        release.wait(10)
        return iter(())

    channel, address = serve(silent)
    session = ExecutorSession(channel, address)
    call = session.send(trigger("never"), time.time() + 0.3)
    with pytest.raises(grpc.FutureTimeoutError):
        call.result(timeout=0.05)  # a shorter wait than the deadline: the call goes on
    started = time.monotonic()
    with pytest.raises(CallTimeoutError, match="never"):
        call.result()
    assert time.monotonic() - started < 2
    release.set()
    session.close()


def test_a_broken_stream_fails_its_calls_and_later_ones_at_once(serve: Any) -> None:
    def abort(requests: Iterator[executor_pb2.CallBatch], context: Any) -> Iterator[Any]:
        next(requests)
        context.abort(grpc.StatusCode.UNAVAILABLE, "executor going away")
        return iter(())

    channel, address = serve(abort)
    session = ExecutorSession(channel, address)
    call = session.send(trigger("first"), soon())
    with pytest.raises(grpc.RpcError) as failed:
        call.result(timeout=10)
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    deadline = time.monotonic() + 5
    while not session.broken:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    later = session.send(trigger("second"), soon())
    assert later.done()
    with pytest.raises(grpc.RpcError):
        later.result(timeout=0)


def test_an_address_that_refuses_is_reported_as_never_delivered() -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    channel = grpc.insecure_channel(address, options=config.CHANNEL_OPTIONS)
    session = ExecutorSession(channel, address)
    call = session.send(trigger("lost"), soon())
    with pytest.raises(grpc.RpcError) as failed:
        call.result(timeout=10)
    assert never_delivered(failed.value) == "refused"
    channel.close()
