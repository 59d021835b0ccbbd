"""Direct calls: with colocated placement the client calls an executor itself, using a lease
from the scheduler. Replacing what a lease names, or losing its executor, must never run
stale code or hang."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cloudburst import CloudburstConnection, ExecutorDiedError
from cloudburst_management import LocalCluster
from conftest import kill_and_await_restart, start_cluster

pytestmark = pytest.mark.e2e


def test_replaced_function_is_seen_through_a_cached_lease(cluster: LocalCluster, name: str) -> None:
    """Client A holds a lease; client B re-registers the function; A's next call runs the
    new body (the executor refuses the stale lease and A refreshes it)."""
    with (
        CloudburstConnection(cluster.scheduler_address) as a,
        CloudburstConnection(cluster.scheduler_address) as b,
    ):
        a.register(lambda _, x: x + 1, name)
        assert a.exec_func(name, [1]).get() == 2
        assert a._leases, "the first call should have leased placement"
        b.register(lambda _, x: x * 100, name)
        assert [a.exec_func(name, [2]).get() for _ in range(4)] == [200] * 4


def test_replaced_and_deleted_dag_through_a_cached_lease(cluster: LocalCluster, name: str) -> None:
    """A DAG replaced or deleted by another client is never run in its old shape."""
    f, g = f"{name}-f", f"{name}-g"
    dag = f"{name}-dag"
    with (
        CloudburstConnection(cluster.scheduler_address) as a,
        CloudburstConnection(cluster.scheduler_address) as b,
    ):
        a.register(lambda _, x: x + 1, f)
        a.register(lambda _, x: x * 10, g)
        a.register_dag(dag, [f, g], [(f, g)])
        assert a.call_dag(dag, {f: 1}).get() == 20
        b.register_dag(dag, [g, f], [(g, f)])
        assert a.call_dag(dag, {g: 1}).get() == 11
        b.delete_dag(dag)
        from cloudburst import DagNotFoundError

        with pytest.raises(DagNotFoundError):
            a.call_dag(dag, {g: 1}).get()


@pytest.fixture(scope="module")
def crashable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = start_cluster(tmp_path_factory.mktemp("crashable"))
    yield cluster
    cluster.down()


def test_direct_call_whose_executor_dies(crashable: LocalCluster, name: str) -> None:
    """A direct call whose executor dies fails fast with ExecutorDiedError; later calls go to
    live executors."""

    def crash(_: Any) -> None:
        os._exit(7)

    with CloudburstConnection(crashable.scheduler_address, timeout=20) as cloud:
        started = time.monotonic()
        with pytest.raises(ExecutorDiedError):
            cloud.register(crash, name)().get()
        assert time.monotonic() - started < 5
        echo = cloud.register(lambda _, v: v, f"{name}-echo")
        assert [echo(i).get(timeout=20) for i in range(6)] == list(range(6))


def test_cached_lease_survives_an_executor_restart(crashable: LocalCluster, name: str) -> None:
    """An executor restarted (on a new port) after a client leased it: the client's next
    calls, which never reached the old executor, are placed again and all succeed."""

    with CloudburstConnection(crashable.scheduler_address, timeout=20) as cloud:
        echo = cloud.register(lambda _, v: v, name)
        assert [echo(i).get() for i in range(4)] == list(range(4))
        kill_and_await_restart(crashable, "node0-executor0")
        assert [echo(i).get() for i in range(10)] == list(range(10))


@pytest.fixture(scope="module")
def hidden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """Executors that advertise an address this client cannot reach, as containers do."""
    cluster = start_cluster(
        tmp_path_factory.mktemp("hidden"),
        executors=4,  # more than a call's retry budget: one failure must suffice to fall back
        CLOUDBURST_ADVERTISE_HOST="executor.invalid",
    )
    yield cluster
    cluster.down()


def test_unreachable_executors_fall_back_to_the_scheduler(hidden: LocalCluster, name: str) -> None:
    """When no leased executor can be reached from the client, calls go through the
    scheduler: the seed example still runs, and no call fails for it."""
    with CloudburstConnection(hidden.scheduler_address, timeout=20) as cloud:
        square = cloud.register(lambda _, x: x * x, name)
        started = time.monotonic()
        assert square(2).get() == 4
        assert time.monotonic() - started < 10  # one failed attempt, not one per executor
        assert [square(i).get() for i in range(5)] == [0, 1, 4, 9, 16]
        cloud.register_dag(f"{name}-dag", [name], [])
        assert cloud.call_dag(f"{name}-dag", {name: [3]}).get() == 9
