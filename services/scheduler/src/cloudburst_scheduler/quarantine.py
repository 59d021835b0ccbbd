"""Poison functions: the quarantine decision. Pure: events (an executor died while running a
function, at t; the function was registered again) in, quarantines out; time is an argument
(unix seconds, so the error can say when the function will be tried again).

``deaths`` executor deaths attributed to one function within ``window_s`` quarantine it for
``period_s``: its calls fail at once with :class:`FunctionQuarantinedError` while every other
function keeps the whole cluster. After the period it is tried again on probation: one more
death within a window quarantines it at once, for twice as long (up to ``max_period_s``).
Registering the function again lifts the quarantine and forgets its deaths.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from cloudburst_protocol.errors import FunctionQuarantinedError

MAX_PERIOD_S = 3600.0


@dataclass(frozen=True, slots=True)
class Quarantined:
    """Action and state: ``function`` is quarantined until ``until``."""

    function: str
    deaths: int
    window_s: float
    reason: str
    until: float

    def error(self, now: float) -> FunctionQuarantinedError:
        when = time.strftime("%H:%M:%S UTC", time.gmtime(self.until))
        return FunctionQuarantinedError(
            f"function {self.function!r} is quarantined: {self.deaths} executor death(s) "
            f"within {self.window_s:g} s while running it (last: {self.reason}); it will be "
            f"tried again at {when} (in {max(0.0, self.until - now):.0f} s), or at once when "
            "it is registered again"
        )


@dataclass(eq=False, slots=True)
class _Record:
    deaths: deque[float]
    strikes: int = 0
    quarantined: Quarantined | None = None
    probation_until: float = 0.0


class Quarantine:
    def __init__(
        self,
        deaths: int = 3,
        window_s: float = 60.0,
        period_s: float = 60.0,
        max_period_s: float = MAX_PERIOD_S,
    ) -> None:
        if deaths < 1:
            raise ValueError(f"deaths must be at least 1, got {deaths}")
        if window_s <= 0 or period_s <= 0:
            raise ValueError("the window and the period must be positive")
        self.deaths = deaths
        self.window_s = window_s
        self.period_s = period_s
        self.max_period_s = max(max_period_s, period_s)
        self._records: dict[str, _Record] = {}

    def died(self, function: str, reason: str, now: float) -> Quarantined | None:
        """An executor died running ``function``: the new quarantine, if this starts one."""
        record = self._records.setdefault(function, _Record(deque()))
        if record.quarantined is not None and record.quarantined.until > now:
            return None  # already quarantined (a call that was running when it began)
        deaths = record.deaths
        deaths.append(now)
        while deaths and now - deaths[0] >= self.window_s:
            deaths.popleft()
        on_probation = record.strikes > 0 and now < record.probation_until
        if len(deaths) < self.deaths and not on_probation:
            return None
        period = min(self.max_period_s, self.period_s * 2.0 ** min(record.strikes, 32))
        record.strikes += 1
        record.quarantined = Quarantined(function, len(deaths), self.window_s, reason, now + period)
        record.probation_until = now + period + self.window_s
        deaths.clear()
        return record.quarantined

    def check(self, function: str, now: float) -> Quarantined | None:
        """The function's quarantine, or ``None`` when its calls may run."""
        record = self._records.get(function)
        if record is None or record.quarantined is None:
            return None
        return record.quarantined if record.quarantined.until > now else None

    def lift(self, function: str) -> bool:
        """The function was registered again: no quarantine, no deaths remembered."""
        return self._records.pop(function, None) is not None

    def current(self, now: float) -> list[Quarantined]:
        """Every function quarantined now, by name."""
        return sorted(
            (q for name in self._records if (q := self.check(name, now)) is not None),
            key=lambda q: q.function,
        )


__all__ = ["Quarantine", "Quarantined"]
