"""The thread user code runs on.

User code may block (it reads and writes the store synchronously, it may sleep), so it never
runs on the event loop. One thread runs it, one call at a time. The hand-off is the lightest
the standard library offers — a ``SimpleQueue`` in, ``call_soon_threadsafe`` out — rather
than ``run_in_executor``, whose chained futures cost a measurable share of a short call.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any

_Job = tuple["asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class UserThread:
    def __init__(self, loop: asyncio.AbstractEventLoop, name: str = "cb-user") -> None:
        self._loop = loop
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def run(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Runs ``fn(*args)`` on the thread; the future settles on the loop."""
        future = self._loop.create_future()
        self._jobs.put((future, fn, args))
        return future

    def stop(self) -> None:
        """Lets the thread end after the job it is running (it is a daemon either way)."""
        self._jobs.put(None)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, args = job
            settle: Callable[[asyncio.Future[Any], Any], None]
            try:
                result = fn(*args)
            except BaseException as exc:  # delivered to the awaiting coroutine
                settle, value = _fail, exc
            else:
                settle, value = _succeed, result
            try:
                self._loop.call_soon_threadsafe(settle, future, value)
            except RuntimeError:  # the loop has closed: the executor is stopping
                return


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: Any) -> None:
    if not future.done():
        future.set_exception(exc)
