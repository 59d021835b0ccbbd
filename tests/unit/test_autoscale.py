"""Unit tests for the autoscaling policy (cloudburst_management.autoscale): synthetic load
traces in simulated time, decisions and pool sizes out; no sockets, no clock.

The simulation is a closed loop: N callers each keep one 50 ms call in flight, so demand is N
calls at once; an executor runs one call at a time, the rest wait in the scheduler's queue.
Executors the policy adds attach by the next observation; removed ones finish their calls
and are gone by the next observation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from cloudburst_management.autoscale import (
    AutoscalePolicy,
    AutoscaleSettings,
    Decision,
    ExecutorLoad,
    FunctionLoad,
    Observation,
    choose_removals,
    removable,
)
from cloudburst_protocol import config
from cloudburst_protocol.errors import InvalidArgumentError


@dataclass
class Sim:
    """Runs a load trace ``callers(t)`` through a policy, one observation every ``dt`` s."""

    policy: AutoscalePolicy
    dt: float = 1.0
    t: float = 0.0
    executors: list[str] = field(default_factory=list)
    next_id: int = 0
    pools: list[tuple[float, int]] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    def __post_init__(self) -> None:
        for _ in range(self.policy.settings.min_executors):
            self._start()

    def _start(self) -> None:
        self.executors.append(f"exec-{self.next_id:03d}")
        self.next_id += 1

    def observe(self, callers: int) -> Observation:
        # The oldest executors run the calls (one each); the rest of the demand queues.
        loads = tuple(
            ExecutorLoad(
                e,
                in_flight=1 if i < callers else 0,
                busy_fraction=1.0 if i < callers else 0.0,
                oldest_call_s=0.02 if i < callers else 0.0,
            )
            for i, e in enumerate(self.executors)
        )
        return Observation(self.t, loads, queued=max(0, callers - len(self.executors)))

    def run(self, callers: Callable[[float], int], until: float) -> None:
        while self.t < until:
            decision = self.policy.observe(self.observe(callers(self.t)))
            if decision.action == "add":
                for _ in range(decision.count):
                    self._start()
            elif decision.action == "remove":
                self.executors = [e for e in self.executors if e not in decision.executor_ids]
            if decision.action != "hold":
                self.decisions.append(decision)
            self.t = round(self.t + self.dt, 6)
            self.pools.append((self.t, len(self.executors)))

    def pool_at(self, t: float) -> int:
        return next(n for when, n in self.pools if when >= t)

    def changes_after(self, t: float) -> list[Decision]:
        return [d for d in self.decisions if d.t >= t]


def step(before: int, after: int, at: float) -> Callable[[float], int]:
    return lambda t: before if t < at else after


def test_step_1_to_16_reaches_16_executors_within_seconds_by_panic() -> None:
    """1 caller for 20 s, then 16: panic mode grows the pool to 16 within 3 simulated s."""
    sim = Sim(AutoscalePolicy())
    sim.run(step(1, 16, 20.0), until=60.0)
    assert sim.pool_at(19.0) == 1
    assert sim.pool_at(23.0) == 16
    assert any("panic" in d.reason for d in sim.changes_after(20.0))
    assert max(n for _, n in sim.pools) == 16  # no overshoot past demand
    assert len(sim.changes_after(20.0)) <= 3  # a few adds, then it holds


def test_step_with_half_second_observations_also_reaches_16() -> None:
    """Same step observed every 0.5 s: 16 executors within 2 simulated s of the step."""
    sim = Sim(AutoscalePolicy(), dt=0.5)
    sim.run(step(1, 16, 20.0), until=40.0)
    assert sim.pool_at(22.0) == 16
    assert sim.pool_at(40.0) == 16


def test_slow_ramp_follows_without_overshoot() -> None:
    """One caller more every 5 s from 1 to 16: the pool follows, never more than 2 above the
    demand, and reaches 16 within a stable window of the top."""
    ramp = lambda t: min(16, 1 + int(t // 5))  # noqa: E731 - a trace reads best inline
    sim = Sim(AutoscalePolicy())
    sim.run(ramp, until=150.0)
    for t, n in sim.pools:
        assert n <= ramp(t) + 2, (t, n)
    assert sim.pool_at(75.0 + 60.0) == 16
    assert all(d.action == "add" for d in sim.decisions)  # never shrinks while load grows


def test_two_second_spike_does_not_leave_the_pool_large() -> None:
    """1 caller, a 2 s spike of 16, then 1 again: the pool grows for the spike and is back
    at min within the scale-down delay plus a panic window after it."""
    settings = AutoscaleSettings()
    sim = Sim(AutoscalePolicy(settings))
    spike = lambda t: 16 if 30.0 <= t < 32.0 else 1  # noqa: E731
    sim.run(spike, until=120.0)
    assert max(n for _, n in sim.pools) > 1
    back = 32.0 + settings.scale_down_delay_s + settings.panic_window_s + 1
    assert sim.pool_at(back) == 1
    assert all(n == 1 for t, n in sim.pools if t >= back)


def test_oscillating_load_does_not_flap() -> None:
    """4 <-> 8 callers every 5 s for 5 minutes: a few adds at first, then no decision at all,
    never a removal."""
    osc = lambda t: 4 if int(t // 5) % 2 == 0 else 8  # noqa: E731
    sim = Sim(AutoscalePolicy())
    sim.run(osc, until=300.0)
    assert [d.action for d in sim.decisions if d.action == "remove"] == []
    assert len(sim.decisions) <= 4
    assert sim.changes_after(90.0) == []
    assert 4 <= sim.pool_at(300.0) <= 8


def test_load_that_stops_returns_to_min_and_never_below() -> None:
    """16 callers for 60 s, then none: back to min (2) within the scale-down delay plus 10 s
    of the stop, and never below min."""
    settings = AutoscaleSettings(min_executors=2)
    sim = Sim(AutoscalePolicy(settings))
    sim.run(step(16, 0, 60.0), until=200.0)
    assert sim.pool_at(59.0) == 16
    assert sim.pool_at(60.0 + settings.scale_down_delay_s + 10.0) == 2
    assert min(n for _, n in sim.pools) == 2
    assert all(d.action == "remove" for d in sim.changes_after(60.0))
    assert all(len(d.reason) > 0 for d in sim.decisions)


def test_max_executors_is_respected() -> None:
    """64 callers with max 8: the pool stops at 8 and the reason says the max held it."""
    sim = Sim(AutoscalePolicy(AutoscaleSettings(max_executors=8)))
    sim.run(step(1, 64, 10.0), until=60.0)
    assert max(n for _, n in sim.pools) == 8
    assert "max 8" in sim.decisions[-1].reason


def test_removal_never_picks_a_busy_executor() -> None:
    """Scaling from 16 to 4 callers removes only idle executors, never one with a call."""
    sim = Sim(AutoscalePolicy())
    removed: list[str] = []
    sim.run(step(16, 4, 40.0), until=40.0)
    busy = set(sim.executors[:4])
    while sim.t < 120.0:
        decision = sim.policy.observe(sim.observe(4))
        if decision.action == "remove":
            removed.extend(decision.executor_ids)
            sim.executors = [e for e in sim.executors if e not in decision.executor_ids]
        sim.t += 1.0
    assert len(sim.executors) == 4
    assert removed and not busy & set(removed)


def test_choose_removals_prefers_idle_and_skips_long_calls() -> None:
    """The removal rule: idle first, then least loaded; a call older than drain_bound_s
    makes its executor unremovable."""
    settings = AutoscaleSettings(drain_bound_s=10.0)
    pool = [
        ExecutorLoad("a", in_flight=1, busy_fraction=0.9, oldest_call_s=1.0),
        ExecutorLoad("b", in_flight=0, busy_fraction=0.1),
        ExecutorLoad("c", in_flight=1, busy_fraction=1.0, oldest_call_s=60.0),
        ExecutorLoad("d", in_flight=0, busy_fraction=0.0),
    ]
    assert choose_removals(pool, 2, settings) == ("d", "b")
    assert choose_removals(pool, 4, settings) == ("d", "b", "a")
    assert not removable(pool[2], settings)


def test_long_calls_block_removal_with_a_reason() -> None:
    """When every executor over demand holds a call past the bound, the policy holds and
    says why."""
    settings = AutoscaleSettings(scale_down_delay_s=5.0)
    policy = AutoscalePolicy(settings)
    busy = tuple(ExecutorLoad(f"e{i}", in_flight=1, oldest_call_s=100.0) for i in range(3))
    decisions = [policy.observe(Observation(float(t), busy)) for t in range(30)]
    # Demand is 3 (their calls), the pool 3: nothing to remove.
    assert all(d.action == "hold" for d in decisions)
    policy2 = AutoscalePolicy(settings)
    mixed = (*busy, ExecutorLoad("e9"))
    last = [policy2.observe(Observation(float(t), mixed)) for t in range(30)]
    assert [d.executor_ids for d in last if d.action == "remove"] == [("e9",)]


def test_function_rates_count_as_demand() -> None:
    """Per-function arrival rate x run time (Little's law) counts when it exceeds in-flight
    calls: 40 calls/s of 0.1 s want 4 executors."""
    obs = Observation(
        0.0, (ExecutorLoad("a", in_flight=1),), functions=(FunctionLoad("f", 40.0, 0.1),)
    )
    assert obs.demand == pytest.approx(4.0)


def test_pool_below_min_is_restored_at_once() -> None:
    """An executor that died (pool 0 with min 1) is replaced at the first observation."""
    decision = AutoscalePolicy().observe(Observation(0.0, ()))
    assert decision.action == "add" and decision.count == 1


def test_pending_starts_are_not_asked_twice() -> None:
    """Executors asked for but not attached yet count in the pool: no second add."""
    policy = AutoscalePolicy()
    one = (ExecutorLoad("a", in_flight=1),)
    first = policy.observe(Observation(0.0, one, queued=3))
    assert first.action == "add" and first.count == 3
    again = policy.observe(Observation(1.0, one, queued=3))
    assert again.action == "hold"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"min_executors": 0}, "min_executors"),
        ({"min_executors": 4, "max_executors": 2}, "max_executors"),
        ({"target_concurrency": 0.0}, "target_concurrency"),
        ({"stable_window_s": -1.0}, "stable_window_s"),
        ({"panic_window_s": 90.0}, "panic_window_s"),
        ({"panic_threshold": 1.0}, "panic_threshold"),
        ({"scale_down_delay_s": -5.0}, "scale_down_delay_s"),
        ({"max_scale_up_rate": 0.5}, "max_scale_up_rate"),
        ({"drain_bound_s": float("nan")}, "drain_bound_s"),
    ],
)
def test_invalid_settings_raise_a_typed_error_naming_the_field(
    kwargs: dict[str, float], name: str
) -> None:
    """Each invalid setting raises InvalidArgumentError naming the field."""
    with pytest.raises(InvalidArgumentError, match=name):
        AutoscaleSettings(**kwargs)  # type: ignore[arg-type]


def test_from_env_reads_the_declared_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """from_env reads CLOUDBURST_MIN_EXECUTORS and friends; unset ones keep the defaults."""
    monkeypatch.setenv(config.MIN_EXECUTORS_ENV, "2")
    monkeypatch.setenv(config.MAX_EXECUTORS_ENV, "12")
    monkeypatch.setenv(config.TARGET_CONCURRENCY_ENV, "1.5")
    monkeypatch.setenv(config.SCALE_DOWN_DELAY_ENV, "20")
    settings = AutoscaleSettings.from_env()
    assert (settings.min_executors, settings.max_executors) == (2, 12)
    assert settings.target_concurrency == 1.5
    assert settings.scale_down_delay_s == 20.0
    assert settings.stable_window_s == config.DEFAULT_SCALE_STABLE_WINDOW_S


def test_from_env_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A value out of range from the environment names its variable."""
    monkeypatch.setenv(config.MAX_EXECUTORS_ENV, "0")
    with pytest.raises(InvalidArgumentError, match=config.MAX_EXECUTORS_ENV):
        AutoscaleSettings.from_env()
    monkeypatch.setenv(config.MAX_EXECUTORS_ENV, "many")
    with pytest.raises(InvalidArgumentError, match=config.MAX_EXECUTORS_ENV):
        AutoscaleSettings.from_env()


def test_time_going_backwards_is_refused() -> None:
    """An observation older than the previous one is an InvalidArgumentError, not a guess."""
    policy = AutoscalePolicy()
    policy.observe(Observation(10.0, (ExecutorLoad("a"),)))
    with pytest.raises(InvalidArgumentError, match="before"):
        policy.observe(Observation(5.0, (ExecutorLoad("a"),)))


def test_pool_far_below_min_is_restored_in_one_decision() -> None:
    """With min 10 and one executor attached, one decision asks for the 9 missing."""
    policy = AutoscalePolicy(AutoscaleSettings(min_executors=10))
    decision = policy.observe(Observation(0.0, (ExecutorLoad("a"),)))
    assert (decision.action, decision.count, decision.pool) == ("add", 9, 10)
