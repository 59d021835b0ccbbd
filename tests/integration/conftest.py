"""Fixtures of the integration suite: a Cloudburst cluster from the built images, one container
per service on one Docker network, used from the host through the scheduler's port, which is
published on 127.0.0.1 only.

- The Docker engine must be reachable. Without it the suite is skipped, or fails when
  ``CI=true`` (a skip in CI would hide a broken machine).
- The images come from ``make images``, run once per session right after collection (so its
  slow first run on a fresh machine is not charged to the first test's timeout). It returns in
  about a second when the images match the code, and rebuilds them when they do not.
- testcontainers' reaper (Ryuk) cannot be pulled here, so it is disabled. Every container and
  network of a session carries ``org.cloudburst.test-session=<id>``; fixtures remove them by
  that label, after failures too. Leftovers of crashed sessions older than an hour are swept at
  the start.
- Every wait is bounded: health waits by a deadline, calls by ``CLOUDBURST_CALL_TIMEOUT``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ._docker_cluster import PREPARATION, SESSION, SESSION_LABEL, Cluster, engine, prepare, sweep

HERE = Path(__file__).resolve().parent
FAILED = pytest.StashKey[bool]()


def pytest_collection_finish(session: pytest.Session) -> None:
    selected = any(
        item.get_closest_marker("docker") and HERE in item.path.parents for item in session.items
    )
    if selected and not session.config.option.collectonly:
        prepare(session.config.pluginmanager.get_plugin("terminalreporter"))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Last resort after interrupted fixtures: nothing of this session stays behind."""
    if PREPARATION.done and PREPARATION.engine_error is None:
        with contextlib.suppress(Exception):
            client = engine()
            sweep(client, f"{SESSION_LABEL}={SESSION}")
            client.close()


@pytest.fixture(scope="session")
def docker_images() -> None:
    """The engine answers and the images are built: else skip (fail when CI=true)."""
    prepare()
    if PREPARATION.engine_error is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {PREPARATION.engine_error}")
        pytest.skip(PREPARATION.engine_error)
    if PREPARATION.build_error is not None:
        pytest.fail(PREPARATION.build_error)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


@pytest.fixture
def dump_logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """Prints the cluster's recent logs when the test fails (shown with its report)."""
    yield
    if request.node.stash.get(FAILED, False):
        for name in ("cluster", "fault_cluster"):
            if name in request.fixturenames:
                cluster: Cluster = request.getfixturevalue(name)
                for container in cluster.containers:
                    print(cluster.logs(container))  # noqa: T201
