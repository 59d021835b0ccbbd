"""Shared fixtures. One place chooses the cluster a test runs against: a real local cluster of
service processes (cache, scheduler, management, executors) started with the same launcher
`cbctl up` uses, on free loopback ports and a private state directory."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from cloudburst import CloudburstConnection
from cloudburst_management import LocalCluster
from cloudburst_protocol import auth, config

# Every cluster a test starts accepts this session's admin token and cluster secret, and every
# client a test makes (in this process or a child) presents the token: tests of their own
# credentials (tests/e2e/test_security.py) set or unset these themselves.
SESSION_TOKEN = os.environ.setdefault(config.TOKEN_ENV, auth.new_token())
SESSION_CLUSTER_SECRET = os.environ.setdefault(config.CLUSTER_SECRET_ENV, auth.new_token())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(
    condition: Callable[[], object], what: str, timeout: float = 60, interval: float = 0.1
) -> None:
    """Polls ``condition`` until it is true; fails naming ``what`` if it is not within
    ``timeout`` seconds (a bound on a wait, not a measurement: generous on purpose)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(interval)


async def wait_for_async(
    condition: Callable[[], Awaitable[object]],
    what: str,
    timeout: float = 60,
    interval: float = 0.05,
) -> None:
    """:func:`wait_for` for a coroutine condition, sleeping without blocking the loop."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(interval)


def start_cluster(home: Path, executors: int = 2, nodes: int = 1, **env: str) -> LocalCluster:
    """A running local cluster with its own ports; extra settings go through ``env``."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        cluster = LocalCluster(
            home=home,
            executors=executors,
            nodes=nodes,
            scheduler_port=free_port(),
            management_port=free_port(),
            cache_port=free_port(),
        )
        cluster.up(timeout=90)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return cluster


def kill_and_await_restart(cluster: LocalCluster, service: str, timeout: float = 30) -> None:
    """SIGKILLs one of the cluster's services and waits until its supervisor has it running
    again under a new pid."""
    info = cluster.status()
    assert info is not None
    victim = next(s for s in info.services if s.name == service)
    os.kill(victim.pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = cluster.status()
        assert now is not None
        current = next(s for s in now.services if s.name == service)
        if current.pid != victim.pid and current.state == "running":
            return
        time.sleep(0.1)
    raise AssertionError(f"{service} was not restarted within {timeout:g} s")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """The shared cluster (2 executors, default placement). Seed code that connects to
    '127.0.0.1' reaches it because CLOUDBURST_SCHEDULER_PORT points at it."""
    cluster = start_cluster(tmp_path_factory.mktemp("cluster"))
    previous = os.environ.get("CLOUDBURST_SCHEDULER_PORT")
    os.environ["CLOUDBURST_SCHEDULER_PORT"] = str(cluster.scheduler_port)
    yield cluster
    if previous is None:
        os.environ.pop("CLOUDBURST_SCHEDULER_PORT", None)
    else:
        os.environ["CLOUDBURST_SCHEDULER_PORT"] = previous
    cluster.down()


@pytest.fixture(scope="session")
def spread(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A second cluster, placing each function of a DAG on the next executor, so triggers go
    between processes; destructive tests (crashes) run here, away from the shared one."""
    cluster = start_cluster(tmp_path_factory.mktemp("spread"), CLOUDBURST_PLACEMENT="spread")
    yield cluster
    cluster.down()


@pytest.fixture
def cloud(cluster: LocalCluster) -> Iterator[CloudburstConnection]:
    with CloudburstConnection(cluster.scheduler_address, "127.0.0.1") as connection:
        yield connection


@pytest.fixture
def name() -> str:
    """A unique name prefix, so tests sharing a cluster do not collide."""
    return f"t{uuid.uuid4().hex[:8]}"
