"""Runaway calls: a call past its deadline, or cancelled, is stopped where it runs. Its
executor takes no new calls meanwhile, and is replaced if the code does not return within
the grace period, so a runaway never holds capacity past deadline + grace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cloudburst import (
    CallCancelledError,
    CallTimeoutError,
    CloudburstConnection,
    KeyNotFoundError,
)
from cloudburst_management import LocalCluster
from conftest import start_cluster, wait_for

pytestmark = pytest.mark.e2e

CBCTL = str(Path(sys.executable).parent / "cbctl")
RUNAWAY_EXIT = "exit code 75"


@pytest.fixture(scope="module")
def stuck(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = start_cluster(
        tmp_path_factory.mktemp("stuck"), executors=2, CLOUDBURST_RUNAWAY_GRACE="2"
    )
    yield cluster
    cluster.down()


def replaced(cluster: LocalCluster) -> int:
    """How many executor exits were replacements of a runaway."""
    info = cluster.status()
    assert info is not None
    return sum(s.restarts for s in info.services if s.last_exit == RUNAWAY_EXIT)


def sleeper(lib: Any, key: str, seconds: float) -> str:
    lib.put(key, 1)  # says it has started
    time.sleep(seconds)
    return "woke"


def fifty_concurrent(address: str, name: str) -> list[Any]:
    """50 calls of a normal function at once, from a fresh client and 8 threads."""
    with CloudburstConnection(address, timeout=20) as cloud:
        echo = cloud.register(lambda _, v: v, f"{name}-echo")
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda i: echo(i).get(), range(50)))


def test_a_runaway_call_times_out_and_its_executor_is_replaced(
    stuck: LocalCluster, name: str
) -> None:
    """sleep(600) with timeout=3: CallTimeoutError for the caller; while it overruns, and
    from deadline + grace on, 50 concurrent normal calls all succeed; the executor that ran
    it exits as a runaway and is replaced."""
    before = replaced(stuck)
    with CloudburstConnection(stuck.scheduler_address, timeout=3) as cloud:
        slow = cloud.register(sleeper, f"{name}-slow")
        with pytest.raises(CallTimeoutError):
            slow(f"{name}-k", 600).get()
    assert fifty_concurrent(stuck.scheduler_address, f"{name}-a") == list(range(50))
    wait_for(lambda: replaced(stuck) > before, "the runaway's executor was not replaced")
    assert fifty_concurrent(stuck.scheduler_address, f"{name}-b") == list(range(50))


def test_future_cancel_stops_the_call_where_it_runs(stuck: LocalCluster, name: str) -> None:
    """cancel() on a running call: get() raises CallCancelledError at once, the executor
    running it is replaced after the grace, and other calls all succeed meanwhile."""
    before = replaced(stuck)
    with CloudburstConnection(stuck.scheduler_address, timeout=120) as cloud:
        slow = cloud.register(sleeper, f"{name}-slow")
        future = slow(f"{name}-k", 600)
        wait_for(lambda: started(cloud, f"{name}-k"), "the call did not start")
        assert future.cancel() is True
        with pytest.raises(CallCancelledError):
            future.get()
        assert future.cancel() is False  # finished (cancelled) already
        assert fifty_concurrent(stuck.scheduler_address, f"{name}-a") == list(range(50))
        wait_for(lambda: replaced(stuck) > before, "the cancelled call's executor stayed")
        finished = cloud.register(lambda _: 1, f"{name}-done")()
        assert finished.get() == 1
        assert finished.cancel() is False


def started(cloud: CloudburstConnection, key: str) -> bool:
    try:
        cloud.get_object(key)
    except KeyNotFoundError:
        return False
    return True


def test_ctrl_c_on_cbctl_call_cancels_the_call(stuck: LocalCluster, name: str) -> None:
    """Ctrl-C on `cbctl call` prints the call id, and the call's executor is freed (replaced
    after the grace); calls keep succeeding."""
    before = replaced(stuck)
    with CloudburstConnection(stuck.scheduler_address, timeout=20) as cloud:
        cloud.register(sleeper, f"{name}-slow")
        command = [CBCTL, "call", "--address", stuck.scheduler_address, f"{name}-slow"]
        process = subprocess.Popen(
            [*command, f"{name}-k", "600"],
            env=dict(os.environ, COLUMNS="200"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(lambda: started(cloud, f"{name}-k"), "the call did not start")
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 130, (out, err)
        assert "cancelled call " in err
        call_id = err.split("cancelled call ", 1)[1].split()[0]
        assert len(call_id) == 32
        wait_for(lambda: replaced(stuck) > before, "the interrupted call's executor stayed")
        assert fifty_concurrent(stuck.scheduler_address, name) == list(range(50))


@pytest.fixture(scope="module")
def stuck_spread(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """Spread placement: every call goes through the scheduler."""
    cluster = start_cluster(
        tmp_path_factory.mktemp("stuck-spread"),
        executors=2,
        CLOUDBURST_RUNAWAY_GRACE="2",
        CLOUDBURST_PLACEMENT="spread",
    )
    yield cluster
    cluster.down()


def test_cancel_through_the_scheduler_reaches_the_executor(
    stuck_spread: LocalCluster, name: str
) -> None:
    """A call placed by the scheduler, cancelled: the scheduler passes the cancel on, the
    executor running it is replaced after the grace, and calls keep succeeding."""
    before = replaced(stuck_spread)
    with CloudburstConnection(stuck_spread.scheduler_address, timeout=120) as cloud:
        slow = cloud.register(sleeper, f"{name}-slow")
        future = slow(f"{name}-k", 600)
        wait_for(lambda: started(cloud, f"{name}-k"), "the call did not start")
        assert future.cancel() is True
        with pytest.raises(CallCancelledError):
            future.get()
        wait_for(lambda: replaced(stuck_spread) > before, "the cancelled call's executor stayed")
    assert fifty_concurrent(stuck_spread.scheduler_address, name) == list(range(50))
