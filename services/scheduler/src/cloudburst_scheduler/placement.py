"""Placement policy: which executor runs a call. Pure: takes a view of executors, returns ids.

Policy (core runtime): a whole DAG call runs on one executor, so triggers between its
functions stay inside one process (the fewest hops); the executor is the one with the fewest
calls in flight, ties broken round-robin so idle executors share the load.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ExecutorView:
    executor_id: str
    in_flight: int


class Placement:
    def __init__(self) -> None:
        self._turn = 0

    def choose(self, executors: Sequence[ExecutorView]) -> str | None:
        """The executor for the next call, or ``None`` when there is none."""
        if not executors:
            return None
        least = min(e.in_flight for e in executors)
        candidates = sorted(e.executor_id for e in executors if e.in_flight == least)
        self._turn += 1
        return candidates[self._turn % len(candidates)]
