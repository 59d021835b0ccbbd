"""Runaway calls: the decision. Pure: what user code is running at t in, an action out;
time is an argument.

User code cannot be stopped from outside its thread, so a call that runs past its deadline
(or was cancelled) makes its executor *overdue*: it takes no new calls and placement skips
it. If the code returns within the grace period the executor serves again; if not, the
process is replaced (it exits and its supervisor starts a new one), so a runaway call never
holds an executor longer than its deadline plus the grace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Action = Literal["overdue", "recovered", "replace"]


@dataclass(frozen=True, slots=True)
class Running:
    """The call whose user code runs now: its id, deadline (0: none), whether it was
    cancelled."""

    call_id: str
    deadline: float
    cancelled: bool = False


class RunawayWatch:
    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self._overdue: str | None = None
        self._since = 0.0

    @property
    def overdue(self) -> bool:
        return self._overdue is not None

    def tick(self, now: float, running: Running | None) -> Action | None:
        late = running is not None and (
            running.cancelled or (running.deadline > 0 and now >= running.deadline)
        )
        if running is None or not late:
            if self._overdue is not None:
                self._overdue = None
                return "recovered"
            return None
        if self._overdue != running.call_id:
            self._overdue = running.call_id
            self._since = now
            return "overdue"
        if now - self._since >= self.grace_s:
            return "replace"
        return None


__all__ = ["Action", "RunawayWatch", "Running"]
