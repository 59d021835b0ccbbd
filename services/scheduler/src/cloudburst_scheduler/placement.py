"""Placement policy: which executors run a call. Pure: takes a view of executors, returns ids.

``colocate`` (the default): a whole DAG call runs on one executor, so triggers between its
functions stay inside one process (the fewest hops); the executor is the one with the fewest
calls in flight, ties broken round-robin so idle executors share the load.

``spread``: each function of a DAG goes to the next executor in turn, so triggers travel
between executors (useful to spread heavy functions, and to exercise the peer path).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ExecutorView:
    executor_id: str
    in_flight: int


POLICIES = ("colocate", "spread")


class Placement:
    def __init__(self, policy: str = "colocate") -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown placement policy {policy!r}; use one of {POLICIES}")
        self.policy = policy
        self._turn = 0

    def place(self, functions: Sequence[str], executors: Sequence[ExecutorView]) -> dict[str, str]:
        """An executor id for each function; empty when there is no executor."""
        first = self.choose(executors)
        if first is None:
            return {}
        if self.policy == "colocate" or len(executors) == 1:
            return dict.fromkeys(functions, first)
        ids = sorted(e.executor_id for e in executors)
        start = ids.index(first)
        return {fn: ids[(start + i) % len(ids)] for i, fn in enumerate(functions)}

    def choose(self, executors: Sequence[ExecutorView]) -> str | None:
        """The executor for the next call, or ``None`` when there is none."""
        if not executors:
            return None
        least = min(e.in_flight for e in executors)
        candidates = sorted(e.executor_id for e in executors if e.in_flight == least)
        self._turn += 1
        return candidates[self._turn % len(candidates)]
