"""Losing an executor container while calls run: every call either succeeds (on the other
executor) or fails fast with a typed error; none hangs; the cluster serves on with the
survivor, and the lost executor rejoins when its container starts again."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from cloudburst import CallTimeoutError, CloudburstConnection, CloudburstError

from ._docker_cluster import SCHEDULER_PORT, Cluster, network_cluster, start_cloudburst

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_images", "dump_logs_on_failure")]

CALL_TIMEOUT_S = 30.0
FAIL_FAST_S = 10.0  # a call that fails must fail well before its deadline
SETTLE_S = 3.0  # calls started this long after the loss must all succeed
WORK_S = 0.3


@dataclass(frozen=True)
class Outcome:
    started: float
    seconds: float
    value: Any = None
    error: BaseException | None = None


@pytest.fixture(scope="module")
def fault_cluster(docker_images: None) -> Iterator[Cluster]:
    with network_cluster() as cluster:
        start_cloudburst(
            cluster, executors=2, schedulers={"scheduler": {"CLOUDBURST_PLACEMENT": "spread"}}
        )
        yield cluster


@pytest.fixture
def fault_cloud(
    fault_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CloudburstConnection]:
    for name in ("executor1", "executor2"):  # a previous test may have left one down
        if fault_cluster.raw(name).status != "running":
            fault_cluster.raw(name).start()
    fault_cluster.wait_healthy()
    port = fault_cluster.published_port("scheduler", SCHEDULER_PORT)
    monkeypatch.setenv("CLOUDBURST_SCHEDULER_PORT", str(port))
    with CloudburstConnection("127.0.0.1", timeout=CALL_TIMEOUT_S) as connection:
        yield connection


def executor_hosts(cloud: CloudburstConnection, calls: int = 10) -> set[str]:
    """The executors that calls reach (idle executors take turns, so 10 calls reach all)."""
    hosts: set[str] = set()
    for _ in range(calls):
        hosts.add(cloud.exec_func("fault_where", []).get(timeout=CALL_TIMEOUT_S))
        if len(hosts) == 2:
            break
    return hosts


def register(cloud: CloudburstConnection) -> None:
    def work(cloudburst: Any, x: int) -> int:
        time.sleep(WORK_S)
        return x * 2

    def where(cloudburst: Any) -> str:
        return str(cloudburst.get_id().split("@")[1])

    cloud.register(work, "fault_work")
    cloud.register(where, "fault_where")


def run_load(
    cloud: CloudburstConnection, seconds: float, threads: int, action: Any
) -> tuple[float, list[Outcome]]:
    """``threads`` callers keep calling fault_work for ``seconds``; ``action`` runs once,
    part way through. Returns when it ran and every call's outcome."""
    stop = threading.Event()
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def caller(seed: int) -> None:
        x = seed * 1000
        while not stop.is_set():
            x += 1
            started = time.monotonic()
            try:
                value = cloud.exec_func("fault_work", [x]).get(timeout=CALL_TIMEOUT_S)
                outcome = Outcome(started, time.monotonic() - started, value=(x, value))
            except BaseException as exc:
                outcome = Outcome(started, time.monotonic() - started, error=exc)
            with lock:
                outcomes.append(outcome)

    with ThreadPoolExecutor(threads) as pool:
        running = [pool.submit(caller, i) for i in range(threads)]
        time.sleep(seconds / 3)
        acted = time.monotonic()
        action()
        time.sleep(seconds * 2 / 3)
        stop.set()
        for future in running:
            future.result(timeout=CALL_TIMEOUT_S + 10)  # bounded: each call is
    return acted, outcomes


@pytest.mark.parametrize("how", ["kill", "stop"])
def test_losing_an_executor_under_load(
    fault_cluster: Cluster, fault_cloud: CloudburstConnection, how: str
) -> None:
    cloud = fault_cloud
    register(cloud)
    survivor = f"{fault_cluster.hostname('executor2')}:7080"
    assert executor_hosts(cloud) == {f"{fault_cluster.hostname('executor1')}:7080", survivor}

    victim = fault_cluster.raw("executor1")
    action = victim.kill if how == "kill" else lambda: victim.stop(timeout=5)
    acted, outcomes = run_load(cloud, seconds=9.0, threads=4, action=action)

    assert len(outcomes) > 20, "the load should have made calls before and after the loss"
    for outcome in outcomes:
        if outcome.error is None:
            x, value = outcome.value
            assert value == x * 2
        else:
            # Typed, fast, and not a timeout: the caller learns at once that its executor went.
            assert isinstance(outcome.error, CloudburstError), repr(outcome.error)
            assert not isinstance(outcome.error, CallTimeoutError), repr(outcome.error)
            assert outcome.seconds < FAIL_FAST_S, (outcome.seconds, repr(outcome.error))
    late = [o for o in outcomes if o.started > acted + SETTLE_S]
    assert late, "calls should have run after the loss"
    assert [o.error for o in late if o.error is not None] == [], "the survivor should serve"
    assert max(o.seconds for o in outcomes) < FAIL_FAST_S + WORK_S
    assert executor_hosts(cloud) == {survivor}

    # The lost executor's container starts again and rejoins under a new executor id.
    victim.start()
    fault_cluster.wait_healthy("executor1")
    deadline = time.monotonic() + 20
    while len(hosts := executor_hosts(cloud)) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert hosts == {f"{fault_cluster.hostname('executor1')}:7080", survivor}
