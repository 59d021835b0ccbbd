"""Poison functions are quarantined, not the cluster: a function that segfaults its executor
over and over ends up failing fast with FunctionQuarantinedError, while every other function
keeps every executor; registering it again lifts the quarantine."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cloudburst import (
    CloudburstConnection,
    ExecutorDiedError,
    FunctionQuarantinedError,
)
from cloudburst_management import LocalCluster
from conftest import start_cluster

pytestmark = pytest.mark.e2e

CBCTL = str(Path(sys.executable).parent / "cbctl")


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = start_cluster(
        tmp_path_factory.mktemp("poisoned"),
        executors=2,
        CLOUDBURST_QUARANTINE_DEATHS="3",
        CLOUDBURST_QUARANTINE_WINDOW="60",
        CLOUDBURST_QUARANTINE_FOR="120",
    )
    yield cluster
    cluster.down()


def all_executors_running(cluster: LocalCluster, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = cluster.status()
        assert info is not None
        executors = [s for s in info.services if s.kind == "executor"]
        assert all(s.state != "failed" for s in executors)
        if all(s.state == "running" for s in executors):
            return
        time.sleep(0.1)
    raise AssertionError(f"executors not all running after {timeout:g} s: {executors}")


def cbctl_status(cluster: LocalCluster) -> Any:
    done = subprocess.run(
        [CBCTL, "status", "--json"],
        env=dict(os.environ, CLOUDBURST_HOME=str(cluster.home)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def segfault(_: Any) -> None:
    ctypes.string_at(0)


def test_a_segfaulting_function_is_quarantined_not_the_cluster(
    poisoned: LocalCluster, name: str
) -> None:
    """30 calls of a function that segfaults: a few kill an executor (ExecutorDiedError),
    then the function is quarantined and the rest fail with FunctionQuarantinedError naming
    it and the signal. A normal function then answers 100 calls on both executors; no
    executor ends failed."""
    outcomes: dict[str, int] = {"died": 0, "quarantined": 0}
    last: FunctionQuarantinedError | None = None
    with CloudburstConnection(poisoned.scheduler_address, timeout=30) as cloud:
        crashy = cloud.register(segfault, f"{name}-crashy")
        for _ in range(30):
            try:
                crashy().get()
            except ExecutorDiedError:
                outcomes["died"] += 1
            except FunctionQuarantinedError as exc:
                outcomes["quarantined"] += 1
                last = exc
        assert outcomes["died"] + outcomes["quarantined"] == 30
        assert outcomes["died"] >= 3
        assert outcomes["quarantined"] >= 20, outcomes
        assert last is not None
        assert f"{name}-crashy" in str(last)
        assert "SIGSEGV" in str(last)
        assert "tried again" in str(last)
        info = poisoned.status()
        assert info is not None
        [quarantined] = [q for q in info.quarantined if q.function == f"{name}-crashy"]
        assert quarantined.reason == "signal SIGSEGV"
        assert quarantined.until > time.time()
        shown = cbctl_status(poisoned)["quarantined"]
        assert [q["reason"] for q in shown if q["function"] == f"{name}-crashy"] == [
            "signal SIGSEGV"
        ]

        all_executors_running(poisoned)
        echo = cloud.register(lambda lib, v: (v, lib.get_id()), f"{name}-echo")
        futures = [echo(i) for i in range(100)]
        results = [f.get() for f in futures]
        assert [v for v, _ in results] == list(range(100))
        assert len({executor for _, executor in results}) == 2

        with pytest.raises(FunctionQuarantinedError):
            crashy().get()
        # Registering it again lifts the quarantine: the next call runs (and crashes) again.
        crashy = cloud.register(segfault, f"{name}-crashy")
        info = poisoned.status()
        assert info is not None
        assert all(q.function != f"{name}-crashy" for q in info.quarantined)
        with pytest.raises(ExecutorDiedError):
            crashy().get()
    all_executors_running(poisoned)
