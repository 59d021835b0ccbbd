"""Faults in the compose file's cluster (two nodes of two executors, started as in
test_cluster.py, with ``CLOUDBURST_PLACEMENT=spread`` so every call goes through the
scheduler): losing an executor container under load, and restarting the storage.

Losing an executor: every call either succeeds (on another executor) or fails fast with a
typed error; none hangs; no acknowledged write is lost; management reports the loss; the
cluster serves on with the survivors, and the lost executor rejoins when its container
starts again. Restarting the storage (the redis container, then the storage authority's):
acknowledged data is still there, since the compose file's authority keeps it in redis,
which runs with AOF. (With the embedded authority the state would live in the authority's
memory and be lost: that test is skipped then.)"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from cloudburst import (
    CallTimeoutError,
    CloudburstConnection,
    CloudburstError,
)

from ._docker_cluster import (
    MANAGEMENT_PORT,
    SCHEDULER_PORT,
    Cluster,
    compose_services,
    management_status,
    network_cluster,
    start_compose_cluster,
)

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_images", "dump_logs_on_failure")]

CALL_TIMEOUT_S = 30.0
FAIL_FAST_S = 10.0  # a call that fails must fail well before its deadline
SETTLE_S = 3.0  # calls started this long after the loss must all succeed
WORK_S = 0.3
EXECUTORS = ("node1-exec0", "node1-exec1", "node2-exec0", "node2-exec1")
VICTIM = "node1-exec0"


@dataclass(frozen=True)
class Outcome:
    started: float
    seconds: float
    value: Any = None
    error: BaseException | None = None


@pytest.fixture(scope="module")
def fault_cluster(docker_images: None) -> Iterator[Cluster]:
    with network_cluster() as cluster:
        start_compose_cluster(cluster, variables={"CLOUDBURST_PLACEMENT": "spread"})
        yield cluster


@pytest.fixture
def fault_cloud(
    fault_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CloudburstConnection]:
    for name in EXECUTORS:  # a previous test may have left one down
        if fault_cluster.raw(name).status != "running":
            fault_cluster.raw(name).start()
    fault_cluster.wait_healthy()
    port = fault_cluster.published_port("scheduler", SCHEDULER_PORT)
    monkeypatch.setenv("CLOUDBURST_SCHEDULER_PORT", str(port))
    with CloudburstConnection("127.0.0.1", timeout=CALL_TIMEOUT_S) as connection:
        yield connection


def management_view(cluster: Cluster) -> tuple[bool, dict[str, str]]:
    """Whether management says the cluster is ready, and each service's state."""
    status = management_status(cluster.published_port("management", MANAGEMENT_PORT))
    return status.ready, {s.name: s.state for s in status.services}


def wait_for(condition: Any, within: float, what: str) -> Any:
    """Polls ``condition`` (every 0.25 s, at most ``within`` s) until it returns a truthy
    value, which it returns."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not after {within:g} s ({result!r})"
        time.sleep(0.25)


def executor_hosts(cloud: CloudburstConnection, want: int, calls: int = 24) -> set[str]:
    """The executors that calls reach (idle executors take turns, so a few calls per
    executor reach all of them)."""
    hosts: set[str] = set()
    for _ in range(calls):
        hosts.add(cloud.exec_func("fault_where", []).get(timeout=CALL_TIMEOUT_S))
        if len(hosts) >= want:
            break
    return hosts


def register(cloud: CloudburstConnection) -> None:
    def work(cloudburst: Any, key: str, x: int) -> int:
        time.sleep(WORK_S)
        cloudburst.put_object(key, x * 2)
        return x * 2

    def where(cloudburst: Any) -> str:
        return str(cloudburst.get_id().split("@")[1])

    cloud.register(work, "fault_work")
    cloud.register(where, "fault_where")


def run_load(
    cloud: CloudburstConnection, prefix: str, seconds: float, threads: int, action: Any
) -> tuple[float, list[Outcome], dict[str, int]]:
    """``threads`` callers keep calling fault_work (which writes its key) for ``seconds``,
    while one more thread keeps putting keys from the host; ``action`` runs once, part way
    through. Returns when it ran, every call's outcome, and the host puts that returned."""
    stop = threading.Event()
    outcomes: list[Outcome] = []
    puts: dict[str, int] = {}
    lock = threading.Lock()

    def caller(seed: int) -> None:
        x = seed * 1000
        while not stop.is_set():
            x += 1
            started = time.monotonic()
            try:
                future = cloud.exec_func("fault_work", [f"{prefix}-call-{x}", x])
                value = future.get(timeout=CALL_TIMEOUT_S)
                outcome = Outcome(started, time.monotonic() - started, value=(x, value))
            except BaseException as exc:
                outcome = Outcome(started, time.monotonic() - started, error=exc)
            with lock:
                outcomes.append(outcome)

    def putter() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            key = f"{prefix}-put-{n}"
            cloud.put_object(key, n)  # raises if not acknowledged: the test fails
            with lock:
                puts[key] = n
            time.sleep(0.02)

    with ThreadPoolExecutor(threads + 1) as pool:
        running = [pool.submit(caller, i) for i in range(threads)]
        running.append(pool.submit(putter))
        time.sleep(seconds / 3)
        acted = time.monotonic()
        action()
        time.sleep(seconds * 2 / 3)
        stop.set()
        for future in running:
            future.result(timeout=CALL_TIMEOUT_S + 10)  # bounded: each call is
    return acted, outcomes, puts


@pytest.mark.parametrize("how", ["kill", "stop"])
def test_losing_an_executor_under_load(
    fault_cluster: Cluster, fault_cloud: CloudburstConnection, how: str
) -> None:
    """One of four executors is killed (or stopped) while four callers keep calling: calls
    succeed or fail fast with a typed error, calls made once it settled all succeed on the
    three others, every acknowledged write is readable, management reports the loss, and the
    executor rejoins when its container starts again."""
    cloud = fault_cloud
    register(cloud)
    everyone = {f"{name}:7080" for name in EXECUTORS}
    survivors = everyone - {f"{VICTIM}:7080"}
    assert executor_hosts(cloud, want=4) == everyone

    victim = fault_cluster.raw(VICTIM)
    action = victim.kill if how == "kill" else lambda: victim.stop(timeout=5)
    prefix = f"fault-{how}-{uuid.uuid4().hex[:6]}"
    acted, outcomes, puts = run_load(cloud, prefix, seconds=9.0, threads=4, action=action)

    assert len(outcomes) > 20, "the load should have made calls before and after the loss"
    acknowledged: dict[str, int] = dict(puts)
    for outcome in outcomes:
        if outcome.error is None:
            x, value = outcome.value
            assert value == x * 2
            acknowledged[f"{prefix}-call-{x}"] = x * 2
        else:
            # Typed, fast, and not a timeout: the caller learns at once that its executor went.
            assert isinstance(outcome.error, CloudburstError), repr(outcome.error)
            assert not isinstance(outcome.error, CallTimeoutError), repr(outcome.error)
            assert outcome.seconds < FAIL_FAST_S, (outcome.seconds, repr(outcome.error))
    late = [o for o in outcomes if o.started > acted + SETTLE_S]
    assert late, "calls should have run after the loss"
    assert [o.error for o in late if o.error is not None] == [], "the survivors should serve"
    assert max(o.seconds for o in outcomes) < FAIL_FAST_S + WORK_S
    assert executor_hosts(cloud, want=3) == survivors

    # No acknowledged write is lost: each call that returned wrote its key before returning,
    # and each put from the host that returned is stored.
    assert len(puts) > 50
    lost = {k: v for k, v in acknowledged.items() if cloud.get(k) != v}
    assert lost == {}, f"{len(lost)} of {len(acknowledged)} acknowledged writes lost"

    # Management, watching every executor, reports the loss.
    ready, states = management_view(fault_cluster)
    assert not ready
    assert states[VICTIM] == "unreachable"
    assert all(states[name] == "running" for name in EXECUTORS if name != VICTIM), states

    # The lost executor's container starts again and rejoins.
    victim.start()
    fault_cluster.wait_healthy(VICTIM)
    wait_for(lambda: executor_hosts(cloud, want=4) == everyone, 20, "the executor rejoins")
    wait_for(lambda: management_view(fault_cluster)[0], 10, "management reports ready")


def test_storage_restart_keeps_acknowledged_data(
    fault_cluster: Cluster, fault_cloud: CloudburstConnection
) -> None:
    """Data acknowledged before the storage engine's container and then the authority's
    restart is all read back afterwards: puts from the host and writes made by functions.
    The scheduler reconnects to the authority, and the authority to redis."""
    if not durable_storage():
        pytest.skip(
            "compose/docker-compose.yml runs the embedded authority, whose state lives in its "
            "process and is lost on restart; set CLOUDBURST_STORAGE_URL=redis://redis:6379/0 "
            "on its storage service to keep the data in redis"
        )
    cloud = fault_cloud
    register(cloud)
    prefix = f"durable-{uuid.uuid4().hex[:6]}"
    written = {f"{prefix}-put-{n}": n for n in range(50)}
    for key, n in written.items():
        assert cloud.put_object(key, n)
    for x in range(8):
        key = f"{prefix}-call-{x}"
        assert cloud.exec_func("fault_work", [key, x]).get(timeout=CALL_TIMEOUT_S) == x * 2
        written[key] = x * 2

    for name in ("redis", "storage"):
        fault_cluster.raw(name).restart(timeout=10)
    fault_cluster.wait_healthy("redis", "storage")
    wait_for(lambda: readable(cloud, next(iter(written))), 30, "the store answers again")
    lost = {k: v for k, v in written.items() if cloud.get(k) != v}
    assert lost == {}, f"{len(lost)} of {len(written)} acknowledged writes lost"


def durable_storage() -> bool:
    """Whether the compose file's storage authority keeps its data in Redis."""
    return "CLOUDBURST_STORAGE_URL" in compose_services()["storage"].env


def readable(cloud: CloudburstConnection, key: str) -> bool:
    try:
        cloud.get_object(key)
    except CloudburstError:
        return False
    return True
