"""Placement policy: which executors run a call. Pure: takes views of executors and of
where data lives, returns executor ids. Unit-tested without sockets.

Load first, then locality. The executors whose calls in flight are within ``LOAD_SLACK`` of
the least busy one are eligible. Among them, the call goes to a node whose cache holds the
most bytes of the keys the call references (its ``CloudburstReference`` arguments, and the
keys its functions read in earlier calls); on that node, to the least busy executor. With no
referenced data cached anywhere, the least busy executor wins. Ties rotate, so idle executors
share the work.

``colocate`` (the default) runs a whole DAG call on that executor, so triggers between its
functions stay inside one process. ``spread`` puts each function on the next executor in
turn, starting there, so triggers travel between executors.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

POLICIES = ("colocate", "spread")
LOAD_SLACK = 1
"""How many more calls in flight than the least busy executor still count as available."""
KEYS_PER_FUNCTION = 64
"""How many recently read keys are remembered per function."""


@dataclass(frozen=True, slots=True)
class ExecutorView:
    executor_id: str
    in_flight: int
    node_id: str = ""
    # Running a call past its deadline (or cancelled): takes no calls until it returns.
    overdue: bool = False


class Placement:
    def __init__(self, policy: str = "colocate") -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown placement policy {policy!r}; use one of {POLICIES}")
        self.policy = policy
        self._turn = 0

    def choose(
        self,
        executors: Sequence[ExecutorView],
        local_bytes: Mapping[str, int] | None = None,
    ) -> str | None:
        """The executor for the next call, or ``None`` when there is none."""
        ranked = self.rank(executors, local_bytes)
        return ranked[0] if ranked else None

    def rank(
        self,
        executors: Sequence[ExecutorView],
        local_bytes: Mapping[str, int] | None = None,
    ) -> list[str]:
        """Executor ids, best first (the first is what :meth:`choose` returns); executors
        running an overdue call are left out."""
        executors = [e for e in executors if not e.overdue]
        if not executors:
            return []
        self._turn += 1
        least = min(e.in_flight for e in executors)
        local = local_bytes or {}

        def merit(e: ExecutorView) -> tuple[int, int]:
            eligible = e.in_flight <= least + LOAD_SLACK
            return (-local.get(e.node_id, 0) if eligible else 1, e.in_flight)

        ranked = sorted(executors, key=lambda e: (merit(e), e.executor_id))
        best = merit(ranked[0])
        tied = [e for e in ranked if merit(e) == best]
        turn = self._turn % len(tied)
        ranked = tied[turn:] + tied[:turn] + ranked[len(tied) :]
        return [e.executor_id for e in ranked]

    def place(
        self,
        functions: Sequence[str],
        executors: Sequence[ExecutorView],
        local_bytes: Mapping[str, int] | None = None,
    ) -> dict[str, str]:
        """An executor id for each function; empty when there is no executor."""
        first = self.choose(executors, local_bytes)
        if first is None:
            return {}
        if self.policy == "colocate" or len(executors) == 1:
            return dict.fromkeys(functions, first)
        ids = sorted(e.executor_id for e in executors if not e.overdue)
        start = ids.index(first)
        return {fn: ids[(start + i) % len(ids)] for i, fn in enumerate(functions)}


class Locality:
    """What each node's cache holds (from its reports) and which keys each function read
    recently (from the executors): the data placement ranks by."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, int]] = {}
        self._function_keys: dict[str, OrderedDict[str, None]] = {}

    def report(
        self, node_id: str, full: bool, held: Mapping[str, int], dropped: Iterable[str]
    ) -> None:
        keys = self.nodes.setdefault(node_id, {})
        if full:
            keys.clear()
        keys.update(held)
        for key in dropped:
            keys.pop(key, None)

    def forget_node(self, node_id: str) -> None:
        self.nodes.pop(node_id, None)

    def note_reads(self, function: str, keys: Iterable[str]) -> None:
        recent = self._function_keys.setdefault(function, OrderedDict())
        for key in keys:
            recent[key] = None
            recent.move_to_end(key)
        while len(recent) > KEYS_PER_FUNCTION:
            recent.popitem(last=False)

    def keys_of(self, functions: Iterable[str]) -> set[str]:
        return {k for fn in functions for k in self._function_keys.get(fn, ())}

    def bytes_by_node(self, keys: Iterable[str]) -> dict[str, int]:
        wanted = set(keys)
        if not wanted:
            return {}
        return {
            node: sum(size for key, size in held.items() if key in wanted)
            for node, held in self.nodes.items()
        }
