"""The executor's hand-offs: user code on its own thread, replies batched into messages."""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest
from cloudburst_executor.server import BATCH_BYTES, _take_batch
from cloudburst_executor.user_thread import UserThread
from cloudburst_protocol.gen import common_pb2, executor_pb2


def test_user_code_runs_off_the_loop_and_settles_on_it() -> None:
    async def main() -> None:
        loop_thread = threading.current_thread()
        user = UserThread(asyncio.get_running_loop())
        ran_on = await user.run(threading.current_thread)
        assert ran_on is not loop_thread
        assert await user.run(lambda a, b: a + b, 2, 3) == 5
        user.stop()

    asyncio.run(main())


def test_user_code_errors_reach_the_awaiting_coroutine() -> None:
    async def main() -> None:
        user = UserThread(asyncio.get_running_loop())

        def boom() -> None:
            raise ValueError("user bug")

        with pytest.raises(ValueError, match="user bug"):
            await user.run(boom)
        with pytest.raises(SystemExit):  # even sys.exit() in user code is only an error
            await user.run(lambda: sys.exit(3))
        assert await user.run(lambda: "still serving") == "still serving"
        user.stop()

    asyncio.run(main())


def test_user_code_runs_one_call_at_a_time() -> None:
    async def main() -> None:
        user = UserThread(asyncio.get_running_loop())
        active: list[int] = []
        overlaps: list[int] = []

        def work(i: int) -> int:
            active.append(i)
            overlaps.append(len(active))
            threading.Event().wait(0.005)
            active.remove(i)
            return i

        results = await asyncio.gather(*(user.run(work, i) for i in range(20)))
        assert results == list(range(20))
        assert max(overlaps) == 1
        user.stop()

    asyncio.run(main())


def reply(call_id: str, size: int) -> executor_pb2.CallReply:
    return executor_pb2.CallReply(call_id=call_id, outcome=common_pb2.Outcome(value=b"x" * size))


def test_ready_replies_go_in_one_message() -> None:
    ready = [reply(str(i), 10) for i in range(300)]
    batch = _take_batch(ready)
    assert [r.call_id for r in batch] == [str(i) for i in range(300)]
    assert ready == []


def test_a_message_of_replies_is_bounded_in_bytes_but_never_empty() -> None:
    big = BATCH_BYTES // 2 + 1
    ready = [reply("a", big), reply("b", big), reply("c", 1)]
    assert [r.call_id for r in _take_batch(ready)] == ["a"]
    assert [r.call_id for r in _take_batch(ready)] == ["b", "c"]
    huge = [reply("h", BATCH_BYTES * 2), reply("i", 1)]
    assert [r.call_id for r in _take_batch(huge)] == ["h"]
    assert [r.call_id for r in _take_batch(huge)] == ["i"]
