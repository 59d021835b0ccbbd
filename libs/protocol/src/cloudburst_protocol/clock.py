"""Timestamps for last-writer-wins values: wall-clock microseconds, strictly increasing
within a process, so two writes from one writer never tie."""

from __future__ import annotations

import threading
import time


class HybridClock:
    """Issues strictly increasing microsecond timestamps close to wall-clock time."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def now(self) -> int:
        with self._lock:
            stamp = max(time.time_ns() // 1000, self._last + 1)
            self._last = stamp
            return stamp


__all__ = ["HybridClock"]
