"""The restart decision for one supervised process: pure, no I/O, time as an argument.

A process that exits while the cluster runs is always restarted — never given up on. The
delay doubles with each exit that follows a start without a stable run in between, up to a
cap (``CLOUDBURST_RESTART_BACKOFF_MAX``, 30 s by default), so a crash loop costs little and
capacity comes back by itself once the cause is gone. A run that stayed healthy for
``stable_s`` starts the backoff over.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

DEFAULT_BASE_S = 0.1
DEFAULT_MAX_S = 30.0
DEFAULT_STABLE_S = 10.0


@dataclass(frozen=True, slots=True)
class Restart:
    """Action: start the process again at ``at`` (same clock as the events)."""

    at: float


def exit_reason(returncode: int) -> str:
    """``signal SIGSEGV`` or ``exit code 3`` (asyncio gives a signal as a negative code)."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


class RestartBackoff:
    """Events: :meth:`started`, :meth:`healthy`, :meth:`exited` (which returns the
    :class:`Restart` to carry out). State: :meth:`state`, ``next_attempt``, ``last_exit``,
    ``failures`` (exits since the last stable run)."""

    def __init__(
        self,
        base_s: float = DEFAULT_BASE_S,
        max_s: float = DEFAULT_MAX_S,
        stable_s: float = DEFAULT_STABLE_S,
    ) -> None:
        if base_s <= 0:
            raise ValueError(f"base_s must be positive, got {base_s:g}")
        if max_s < base_s:
            raise ValueError(f"max_s ({max_s:g}) must be at least base_s ({base_s:g})")
        self.base_s = base_s
        self.max_s = max_s
        self.stable_s = stable_s
        self.failures = 0
        self.next_attempt: float | None = None
        self.last_exit = ""
        self._healthy_since: float | None = None
        self._running = False

    def started(self, now: float) -> None:
        self.next_attempt = None
        self._healthy_since = None
        self._running = True

    def healthy(self, now: float) -> None:
        if self._healthy_since is None:
            self._healthy_since = now

    def exited(self, now: float, reason: str) -> Restart:
        self._running = False
        self.last_exit = reason
        if self._healthy_since is not None and now - self._healthy_since >= self.stable_s:
            self.failures = 0
        self._healthy_since = None
        delay = min(self.max_s, self.base_s * 2.0 ** min(self.failures, 64))
        self.failures += 1
        self.next_attempt = now + delay
        return Restart(self.next_attempt)

    def state(self, now: float) -> str:
        """``backoff`` (waiting to restart), ``starting`` or ``running`` (healthy)."""
        if not self._running:
            return "backoff" if self.next_attempt is not None else "starting"
        return "running" if self._healthy_since is not None else "starting"


__all__ = ["Restart", "RestartBackoff", "exit_reason"]
