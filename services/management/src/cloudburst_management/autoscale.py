"""The autoscaling policy: observations in, decisions out; pure, no I/O, time as an argument.

Every observation reports each executor's load (in-flight calls, busy fraction, queue) and
the calls waiting for any executor. Demand is the number of calls that want an executor at
once (in flight plus queued, or the per-function arrival rate times run time when that is
larger). The pool is sized for ``target_concurrency`` calls per executor:

- **stable mode**: the pool grows to ``ceil(average demand over the stable window / target)``;
- **panic mode**: when the panic-window average asks for ``panic_threshold`` times the pool
  or more, the pool grows at once to what the latest demand asks for (at most
  ``max_scale_up_rate`` times per decision) and never shrinks; panic ends once the panic
  condition has been false for a whole panic window;
- **scale-down**: only to the largest size the panic-window average asked for over the last
  ``scale_down_delay_s`` (so load must stay below the pool for the whole delay), never below
  ``min_executors``, removing the least-loaded executors that :func:`removable` allows.

The pool is never larger than ``max_executors``. See docs/autoscaling.md.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Literal, Protocol

from cloudburst_protocol import config
from cloudburst_protocol.errors import InvalidArgumentError

_ENV_NAMES = {
    "min_executors": config.MIN_EXECUTORS_ENV,
    "max_executors": config.MAX_EXECUTORS_ENV,
    "target_concurrency": config.TARGET_CONCURRENCY_ENV,
    "stable_window_s": config.SCALE_STABLE_WINDOW_ENV,
    "panic_window_s": config.SCALE_PANIC_WINDOW_ENV,
    "panic_threshold": config.SCALE_PANIC_THRESHOLD_ENV,
    "scale_down_delay_s": config.SCALE_DOWN_DELAY_ENV,
    "max_scale_up_rate": config.SCALE_UP_RATE_ENV,
    "drain_bound_s": config.DRAIN_BOUND_ENV,
}


@dataclass(frozen=True, slots=True)
class AutoscaleSettings:
    """The policy's settings; the defaults need no tuning. Invalid values raise
    :class:`InvalidArgumentError` naming the field and its environment variable."""

    min_executors: int = config.DEFAULT_MIN_EXECUTORS
    max_executors: int = config.DEFAULT_MAX_EXECUTORS
    target_concurrency: float = config.DEFAULT_TARGET_CONCURRENCY
    """Concurrent calls one executor is sized for (an executor runs one call at a time)."""
    stable_window_s: float = config.DEFAULT_SCALE_STABLE_WINDOW_S
    panic_window_s: float = config.DEFAULT_SCALE_PANIC_WINDOW_S
    panic_threshold: float = config.DEFAULT_SCALE_PANIC_THRESHOLD
    """Panic when the panic-window demand asks for this many times the pool."""
    scale_down_delay_s: float = config.DEFAULT_SCALE_DOWN_DELAY_S
    max_scale_up_rate: float = config.DEFAULT_SCALE_UP_RATE
    """One decision grows the pool to at most this many times its size."""
    drain_bound_s: float = config.DEFAULT_DRAIN_BOUND_S
    """A busy executor may be chosen for removal only if its oldest in-flight call started
    at most this long ago (draining waits for it); an idle one always may."""
    start_timeout_s: float = 30.0
    """An executor asked for and not seen within this long counts as never started."""

    def __post_init__(self) -> None:
        def bad(name: str, rule: str) -> InvalidArgumentError:
            env = _ENV_NAMES.get(name)
            where = f"{name} ({env})" if env else name
            return InvalidArgumentError(f"{where} must be {rule}, got {getattr(self, name)!r}")

        if self.min_executors < 1:
            raise bad("min_executors", "at least 1")
        if self.max_executors < self.min_executors:
            raise bad("max_executors", f"at least min_executors ({self.min_executors})")
        for name in ("target_concurrency", "stable_window_s", "panic_window_s"):
            if not getattr(self, name) > 0:
                raise bad(name, "more than 0")
        if self.panic_window_s > self.stable_window_s:
            raise bad("panic_window_s", f"at most stable_window_s ({self.stable_window_s:g})")
        if not self.panic_threshold > 1:
            raise bad("panic_threshold", "more than 1")
        if not self.max_scale_up_rate > 1:
            raise bad("max_scale_up_rate", "more than 1")
        for name in ("scale_down_delay_s", "drain_bound_s", "start_timeout_s"):
            if not getattr(self, name) >= 0:
                raise bad(name, "0 or more")

    @classmethod
    def from_env(cls) -> AutoscaleSettings:
        """The settings from ``CLOUDBURST_MIN_EXECUTORS`` and friends (see config)."""
        values: dict[str, object] = {}
        for f in fields(cls):
            env = _ENV_NAMES.get(f.name)
            if env is None:
                continue
            if isinstance(f.default, int):
                values[f.name] = config.env_int(env, f.default)
            elif isinstance(f.default, float):
                values[f.name] = config.env_float(env, f.default)
        return cls(**values)  # type: ignore[arg-type]  # the names and types come from fields


@dataclass(frozen=True, slots=True)
class ExecutorLoad:
    """One executor at one observation. ``oldest_call_s``: how long its oldest in-flight call
    has run (0 when idle)."""

    executor_id: str
    in_flight: int = 0
    busy_fraction: float = 0.0
    queue: int = 0
    oldest_call_s: float = 0.0


@dataclass(frozen=True, slots=True)
class FunctionLoad:
    """A function's arrival rate (calls/s) and mean run time (s): it needs ``rate * run``
    executors busy at once (Little's law)."""

    name: str
    arrival_rate: float
    run_time_s: float


@dataclass(frozen=True, slots=True)
class Observation:
    """The pool at time ``t`` (seconds, any clock that only moves forward): the executors
    attached, the calls waiting for any executor, optionally per-function rates."""

    t: float
    executors: tuple[ExecutorLoad, ...]
    queued: int = 0
    functions: tuple[FunctionLoad, ...] = ()

    @property
    def demand(self) -> float:
        """Calls that want an executor at once."""
        measured = self.queued + sum(e.in_flight + e.queue for e in self.executors)
        little = sum(f.arrival_rate * f.run_time_s for f in self.functions)
        return float(max(measured, little))


@dataclass(frozen=True, slots=True)
class Decision:
    """``add`` executors (``count``), ``remove`` these ``executor_ids`` (drain, then stop),
    or ``hold``; ``reason`` is a line for logs and ``cbctl status``."""

    t: float
    action: Literal["add", "remove", "hold"]
    reason: str
    count: int = 0
    executor_ids: tuple[str, ...] = ()
    pool: int = 0
    """The pool size this decision aims at."""


class Actuator(Protocol):
    """What carries decisions out: local processes (the supervisor), Docker containers, a
    Kubernetes Deployment's scale subresource. Both calls return at once; the new executors
    show up in later observations once attached, the removed ones once gone."""

    def start(self, count: int) -> None:
        """Start ``count`` more executors."""

    def drain_and_stop(self, executor_ids: Sequence[str]) -> None:
        """Take these executors out of placement, let their in-flight calls finish, stop."""


def removable(executor: ExecutorLoad, settings: AutoscaleSettings) -> bool:
    """May this executor be chosen for removal? Idle ones may; a busy one only if its oldest
    in-flight call started at most ``drain_bound_s`` ago."""
    if executor.in_flight == 0 and executor.queue == 0:
        return True
    return executor.oldest_call_s <= settings.drain_bound_s


def choose_removals(
    executors: Sequence[ExecutorLoad], count: int, settings: AutoscaleSettings
) -> tuple[str, ...]:
    """Up to ``count`` executors to remove: idle ones first, then the least loaded, only
    among those :func:`removable` allows; ties go to the id sorted last (newest)."""
    allowed = sorted(
        (e for e in executors if removable(e, settings)), key=lambda e: e.executor_id, reverse=True
    )
    allowed.sort(key=lambda e: (e.in_flight + e.queue, e.busy_fraction))  # stable: ids stay
    return tuple(e.executor_id for e in allowed[: max(0, count)])


@dataclass(slots=True)
class _Sample:
    t: float
    demand: float
    want: int = 0
    """The pool this sample asked for: what scale-down looks back on."""


@dataclass(slots=True)
class _Pending:
    t: float
    count: int


class AutoscalePolicy:
    """Feed :meth:`observe` with an :class:`Observation` every second or so; carry out the
    :class:`Decision` it returns. ``decisions`` keeps the last non-hold ones for status."""

    def __init__(self, settings: AutoscaleSettings | None = None, history: int = 20) -> None:
        self.settings = settings or AutoscaleSettings()
        self.decisions: deque[Decision] = deque(maxlen=history)
        self.panic = False
        self._samples: deque[_Sample] = deque()
        self._pending: list[_Pending] = []
        self._draining: set[str] = set()
        self._known: set[str] = set()
        self._started: float | None = None
        self._calm_since: float | None = None
        self._last_t: float | None = None

    def _want(self, demand: float) -> int:
        return math.ceil(demand / self.settings.target_concurrency - 1e-9)

    def _clamp(self, size: int) -> int:
        return max(self.settings.min_executors, min(self.settings.max_executors, size))

    def observe(self, obs: Observation) -> Decision:
        s = self.settings
        if self._last_t is not None and obs.t < self._last_t:
            raise InvalidArgumentError(f"observation at t={obs.t:g} is before t={self._last_t:g}")
        self._last_t = obs.t
        if self._started is None:
            self._started = obs.t
        active, pool = self._membership(obs)

        demand = obs.demand
        self._samples.append(_Sample(obs.t, demand))
        while self._samples[0].t <= obs.t - s.stable_window_s:
            self._samples.popleft()
        panic_samples = [x for x in self._samples if x.t > obs.t - s.panic_window_s]
        panic_avg = sum(x.demand for x in panic_samples) / len(panic_samples)
        stable_avg = sum(x.demand for x in self._samples) / len(self._samples)
        panic_want = self._want(panic_avg)
        stable_want = self._want(stable_avg)
        loads = f"demand {demand:g}, {s.panic_window_s:g} s avg {panic_avg:.1f}, " + (
            f"{s.stable_window_s:g} s avg {stable_avg:.1f}"
        )

        self._update_panic(obs.t, panic_want >= s.panic_threshold * max(pool, 1))
        mode = "panic" if self.panic else "stable"
        # Stable mode grows only when both windows ask for more: sustained load, not the
        # stable window's memory of load that has stopped.
        up_want = self._want(max(panic_avg, demand)) if self.panic else min(stable_want, panic_want)
        self._samples[-1].want = up_want if self.panic else panic_want
        # Below min (e.g. at start or after an executor died): restore min at once.
        goal = self._clamp(up_want)
        if goal > pool:
            step = max(pool + 1, s.min_executors, math.floor(max(pool, 1) * s.max_scale_up_rate))
            goal = min(goal, step)
            self._pending.append(_Pending(obs.t, goal - pool))
            why = f"{mode}: {loads} asks for {up_want}, pool {pool} -> {goal}"
            if up_want > s.max_executors:
                why += f" (max {s.max_executors})"
            return self._record(Decision(obs.t, "add", why, count=goal - pool, pool=goal))

        if self.panic:
            return Decision(obs.t, "hold", f"panic: {loads}, never shrinking", pool=pool)
        return self._scale_down(obs.t, active, pool, loads)

    def _scale_down(
        self, now: float, active: list[ExecutorLoad], pool: int, loads: str
    ) -> Decision:
        s = self.settings
        assert self._started is not None
        if now - self._started < s.scale_down_delay_s or self._pending:
            return Decision(now, "hold", f"stable: {loads}, pool {pool}", pool=pool)
        window = [x.want for x in self._samples if x.t >= now - s.scale_down_delay_s]
        down_goal = self._clamp(max(window))
        if down_goal >= pool:
            return Decision(now, "hold", f"stable: {loads}, pool {pool}", pool=pool)
        chosen = choose_removals(active, pool - down_goal, s)
        if not chosen:
            why = f"stable: {loads} asks for {down_goal}, but every executor holds a long call"
            return Decision(now, "hold", why, pool=pool)
        self._draining.update(chosen)
        goal = pool - len(chosen)
        why = (
            f"stable: at most {max(window)} needed over the last {s.scale_down_delay_s:g} s "
            f"({loads}), pool {pool} -> {goal}"
        )
        return self._record(Decision(now, "remove", why, executor_ids=chosen, pool=goal))

    def _membership(self, obs: Observation) -> tuple[list[ExecutorLoad], int]:
        """The executors not draining, and the pool: those plus the ones still starting."""
        ids = {e.executor_id for e in obs.executors}
        self._draining &= ids  # the ones gone have finished draining
        new = len(ids - self._known)
        self._known = ids
        self._settle_pending(obs.t, new)
        active = [e for e in obs.executors if e.executor_id not in self._draining]
        return active, len(active) + sum(p.count for p in self._pending)

    def _update_panic(self, now: float, condition: bool) -> None:
        """Panic starts when the condition holds and ends once it has been false for a
        whole panic window."""
        if condition:
            self.panic = True
            self._calm_since = None
        elif self.panic:
            if self._calm_since is None:
                self._calm_since = now
            if now - self._calm_since >= self.settings.panic_window_s:
                self.panic = False
                self._calm_since = None

    def _settle_pending(self, now: float, arrived: int) -> None:
        """New executors fulfil the oldest requests; requests older than the start timeout
        are dropped (so the policy asks again)."""
        for p in self._pending:
            used = min(p.count, arrived)
            p.count -= used
            arrived -= used
        self._pending = [
            p for p in self._pending if p.count > 0 and now - p.t < self.settings.start_timeout_s
        ]

    def _record(self, decision: Decision) -> Decision:
        self.decisions.append(decision)
        return decision


__all__ = [
    "Actuator",
    "AutoscalePolicy",
    "AutoscaleSettings",
    "Decision",
    "ExecutorLoad",
    "FunctionLoad",
    "Observation",
    "choose_removals",
    "removable",
]
