"""Restart policy for supervised processes: pure, no I/O.

A process that exits while the cluster runs is restarted after a short delay that doubles
with each quick failure; one that fails ``max_restarts`` times within ``window_s`` seconds is
given up on (marked failed) so a crash loop cannot spin forever. A process that exits with
``EXIT_CONFIG`` (78) said that restarting cannot help: it is given up on at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cloudburst_protocol.config import EXIT_CONFIG


@dataclass
class RestartPolicy:
    max_restarts: int = 5
    window_s: float = 30.0
    base_delay_s: float = 0.1
    max_delay_s: float = 2.0
    _failures: list[float] = field(default_factory=list)

    def on_exit(self, now: float, code: int | None = None) -> float | None:
        """Seconds to wait before restarting, or ``None`` to give up."""
        if code == EXIT_CONFIG:
            return None
        self._failures = [t for t in self._failures if now - t < self.window_s]
        self._failures.append(now)
        if len(self._failures) > self.max_restarts:
            return None
        delay: float = self.base_delay_s * 2.0 ** (len(self._failures) - 1)
        return min(delay, self.max_delay_s)
