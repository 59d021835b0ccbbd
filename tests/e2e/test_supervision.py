"""Supervision that never gives up: a process killed over and over is restarted each time,
with a backoff that the status shows (state `backoff`, next start, last exit reason)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloudburst import CloudburstConnection
from cloudburst_management import LocalCluster, ServiceInfo
from conftest import start_cluster

pytestmark = pytest.mark.e2e

CBCTL = str(Path(sys.executable).parent / "cbctl")
EXECUTOR = "node0-executor0"


@pytest.fixture(scope="module")
def lonely(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One executor, restarts backing off from 0.4 s to 1.6 s (so each backoff is seen)."""
    cluster = start_cluster(
        tmp_path_factory.mktemp("lonely"),
        executors=1,
        CLOUDBURST_RESTART_BACKOFF_BASE="0.4",
        CLOUDBURST_RESTART_BACKOFF_MAX="1.6",
    )
    yield cluster
    cluster.down()


def service(cluster: LocalCluster, name: str) -> ServiceInfo:
    info = cluster.status()
    assert info is not None
    return next(s for s in info.services if s.name == name)


def test_a_crash_loop_is_restarted_forever_with_backoff(lonely: LocalCluster) -> None:
    """Seven kills in a row (more than the old policy's 5 restarts per 30 s, after which it
    gave up and left the executor `failed`): each one is restarted; in between the state is
    `backoff` with the next start's time and `signal SIGKILL` as the last exit; afterwards
    the executor serves calls again."""
    seen_backoff = []
    for _ in range(7):
        victim = service(lonely, EXECUTOR)
        assert victim.state == "running"
        os.kill(victim.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = service(lonely, EXECUTOR)
            assert now.state != "failed"
            if now.state == "backoff":
                seen_backoff.append(now)
            if now.pid != victim.pid and now.state == "running":
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"{EXECUTOR} was not restarted; last seen {now}")
        assert now.last_exit == "signal SIGKILL"
    assert seen_backoff, "the state never said backoff"
    assert all(s.last_exit == "signal SIGKILL" for s in seen_backoff)
    assert all(s.next_restart_at > 0 for s in seen_backoff)
    assert service(lonely, EXECUTOR).restarts == 7
    with CloudburstConnection(lonely.scheduler_address, timeout=20) as cloud:
        echo = cloud.register(lambda _, v: v, "echo")
        assert [echo(i).get() for i in range(5)] == list(range(5))


def test_status_json_shows_the_last_exit(lonely: LocalCluster) -> None:
    """`cbctl status --json` carries each service's last exit reason and next start."""
    env = dict(os.environ, CLOUDBURST_HOME=str(lonely.home))
    done = subprocess.run(
        [CBCTL, "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    services = {s["name"]: s for s in json.loads(done.stdout)["services"]}
    assert "last_exit" in services[EXECUTOR]
    assert "next_restart_at" in services[EXECUTOR]
