"""Chaos under load, and retries where they are safe: 8 threads call without pause while one
service is killed (kill -9) and restarted by its supervisor. A call whose request never
reached the scheduler waits for it and goes through; only a request in flight at the moment
of a kill may fail, with a typed error; none hangs, none is wrong."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from cloudburst import (
    CallTimeoutError,
    CloudburstConnection,
    CloudburstError,
    CloudburstFuture,
    ExecutorDiedError,
)
from cloudburst_management import LocalCluster
from conftest import start_cluster

pytestmark = pytest.mark.e2e

THREADS = 8


@pytest.fixture(scope="module")
def restartable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = start_cluster(tmp_path_factory.mktemp("restartable"), executors=2)
    yield cluster
    cluster.down()


def pid_of(cluster: LocalCluster, service: str) -> int:
    info = cluster.status()
    assert info is not None
    return next(s.pid for s in info.services if s.name == service)


@pytest.mark.parametrize(
    ("victim", "detach"),
    [
        ("scheduler", True),
        ("scheduler", False),
        ("node0-executor0", True),
        ("node0-executor0", False),
        ("node0-cache", False),
    ],
    ids=["scheduler-detached", "scheduler-direct", "executor-detached", "executor-direct", "cache"],
)
def test_calls_survive_a_kill(
    restartable: LocalCluster, name: str, victim: str, detach: bool
) -> None:
    """Counted per call: ok, typed error, timed out, wrong (a hung call would keep its thread
    from ending). None hangs, none is wrong; after a scheduler or executor kill at most one
    call per thread (the one in flight at the kill) fails; every thread goes on calling
    after the restart."""
    address = restartable.scheduler_address
    with CloudburstConnection(address, timeout=30) as setup:
        setup.register(lambda _, v: v * 2, name)
    outcomes: Counter[str] = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    calls_after_restart = threading.Semaphore(0)
    restarted = threading.Event()

    def caller() -> None:
        with CloudburstConnection(address, timeout=30) as cloud:
            i = 0
            while not stop.is_set():
                i += 1
                outcome, error = one_call(cloud, i)
                with lock:
                    outcomes[outcome] += 1
                    if error:
                        errors.append(error)
                if restarted.is_set():
                    calls_after_restart.release()

    def one_call(cloud: CloudburstConnection, i: int) -> tuple[str, str]:
        try:
            future: CloudburstFuture = cloud.exec_func(name, [i], detach=detach)
            value = future.get(timeout=40)
        except CallTimeoutError as exc:  # an instant call that waited out its deadline
            return "timed out", str(exc)
        except CloudburstError as exc:
            return "typed error", f"{type(exc).__name__}: {exc}"
        return ("ok" if value == 2 * i else "wrong"), ""

    threads = [threading.Thread(target=caller) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while sum(outcomes.values()) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        killed = pid_of(restartable, victim)
        os.kill(killed, signal.SIGKILL)
        while time.monotonic() < deadline:
            info = restartable.status()
            assert info is not None
            now = next(s for s in info.services if s.name == victim)
            if now.pid != killed and now.state == "running":
                break
            time.sleep(0.05)
        restarted.set()
        # Every thread gets through 25 more calls after the restart.
        for _ in range(THREADS * 25):
            assert calls_after_restart.acquire(timeout=60), "calls stopped after the restart"
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a caller hung"
    assert outcomes["wrong"] == 0
    if victim != "node0-cache":
        failed = outcomes["typed error"] + outcomes["timed out"]
        assert failed <= THREADS, (outcomes, errors[:10])
    assert outcomes["ok"] >= 400, (outcomes, errors[:10])


def die_once(lib: Any, key: str) -> str:
    """Kills its executor the first time it runs for ``key``; answers after that."""
    if lib.get(key) is None:
        lib.put(key, 1)
        os._exit(3)
    return "survived"


def test_an_idempotent_function_is_retried_after_its_executor_died(
    restartable: LocalCluster, name: str
) -> None:
    """Registered with idempotent=True, a call whose executor dies is placed again (within
    its deadline) and answers; the same function registered without it fails with
    ExecutorDiedError."""
    with CloudburstConnection(restartable.scheduler_address, timeout=60) as cloud:
        plain = cloud.register(die_once, f"{name}-plain")
        with pytest.raises(ExecutorDiedError):
            plain(f"{name}-k1").get()
        again = cloud.register(die_once, f"{name}-again", idempotent=True)
        assert again(f"{name}-k2").get() == "survived"
        detached = cloud.exec_func(f"{name}-again", [f"{name}-k3"], detach=True)
        assert detached.get() == "survived"
