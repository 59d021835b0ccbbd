"""Placement across executors and failures: crashes, timeouts, recovery. Runs on the `spread`
cluster (its own, with spread placement), so its crashes cannot disturb other tests."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cloudburst import CallTimeoutError, CloudburstConnection, ExecutorDiedError
from cloudburst_management import LocalCluster
from conftest import kill_and_await_restart

pytestmark = pytest.mark.e2e


@pytest.fixture
def sc(spread: LocalCluster) -> Iterator[CloudburstConnection]:
    with CloudburstConnection(spread.scheduler_address, timeout=20) as connection:
        yield connection


def wait_until_ready(cluster: LocalCluster, restarted: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = cluster.status()
        if info is not None:
            service = next(s for s in info.services if s.name == restarted)
            if service.restarts >= 1 and service.state == "running":
                return
        time.sleep(0.1)
    raise AssertionError(f"{restarted} was not restarted within {timeout} s")


def test_dag_hops_between_executors(sc: CloudburstConnection, name: str) -> None:
    """With spread placement, a two-function DAG runs on two executors and the trigger goes
    from one executor to the other."""
    cloud = sc
    cloud.register(lambda lib, x: [x, lib.get_id()], f"{name}-a")
    cloud.register(lambda lib, prev: [*prev, lib.get_id()], f"{name}-b")
    cloud.register_dag(f"{name}-dag", [f"{name}-a", f"{name}-b"], [(f"{name}-a", f"{name}-b")])
    x, first, second = cloud.call_dag(f"{name}-dag", {f"{name}-a": 5}).get()
    assert x == 5
    assert first != second


def test_messages_between_executors(sc: CloudburstConnection, name: str) -> None:
    """send() from one executor reaches recv() on another."""
    cloud = sc

    def send_elsewhere(lib: Any, target: str) -> str:
        if lib.get_id() != target:
            lib.send(target, b"ping")
        return str(lib.get_id())

    cloud.register(send_elsewhere, f"{name}-s")
    cloud.register(lambda lib: [lib.get_id(), lib.recv()], f"{name}-r")
    ids = {cloud.exec_func(f"{name}-r").get()[0] for _ in range(6)}
    assert len(ids) == 2
    target = sorted(ids)[0]
    for _ in range(10):
        sender = cloud.exec_func(f"{name}-s", [target]).get()
        if sender != target:
            break
    else:
        raise AssertionError("the sender always ran on the target executor")
    received: list[Any] = []
    for _ in range(10):
        me, messages = cloud.exec_func(f"{name}-r").get()
        if me == target:
            received.extend(messages)
            break
    assert [sender_id for sender_id, _ in received] == [sender]
    assert [body for _, body in received] == [b"ping"]


def test_call_timeout(spread: LocalCluster, name: str) -> None:
    """A call that outlives the connection's timeout fails with CallTimeoutError, on time."""
    with CloudburstConnection(spread.scheduler_address, timeout=0.5) as cloud:

        def slow(_: Any) -> str:
            time.sleep(2)
            return "late"

        started = time.monotonic()
        with pytest.raises(CallTimeoutError):
            cloud.register(slow, name)().get()
        assert time.monotonic() - started < 1.9


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_function_that_kills_its_executor(
    spread: LocalCluster, sc: CloudburstConnection, name: str, how: str
) -> None:
    """A function that ends its own process fails the call with ExecutorDiedError, quickly;
    the executor is restarted and the cluster keeps serving."""

    def crash(_: Any, how: str) -> None:
        if how == "exit":
            os._exit(3)
        os.kill(os.getpid(), signal.SIGKILL)

    before = {s.name: s.restarts for s in spread.status().services}  # type: ignore[union-attr]
    started = time.monotonic()
    with pytest.raises(ExecutorDiedError):
        sc.register(crash, name)(how).get()
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = spread.status()
        assert info is not None
        now = {s.name: (s.restarts, s.state) for s in info.services}
        bumped = [n for n, (r, st) in now.items() if r > before[n] and st == "running"]
        if bumped:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("no executor was restarted")
    echo = sc.register(lambda _, v: v, f"{name}-echo")
    assert [echo(i).get() for i in range(4)] == [0, 1, 2, 3]


def test_node_caches_recover_after_the_storage_restarts(spread: LocalCluster, name: str) -> None:
    """When the storage process dies and is restarted, node caches reconnect and calls that
    read state work again promptly — none waits out a long timeout. (The embedded store
    keeps data in memory: what was stored before is gone; Redis storage keeps it.)"""
    kill_and_await_restart(spread, "storage")
    with CloudburstConnection(spread.scheduler_address, timeout=30) as cloud:
        started = time.monotonic()
        cloud.put_object(f"{name}-k", 41)
        reader = cloud.register(lambda lib, k: lib.get_object(k) + 1, name)
        assert reader(f"{name}-k").get() == 42
        assert time.monotonic() - started < 15
