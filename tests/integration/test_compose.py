"""compose/docker-compose.yml itself: brought up with docker-compose 1.29 (v1, what this
machine has; ``docker compose`` v2 where only that is installed) under a project name of its
own and free host ports, waited for with compose/wait-healthy.sh as `make compose-up` does,
used from the host with the seed example, and removed with ``down --volumes``. Every step is
bounded by one deadline; whatever is left is removed by the project's label."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
from conftest import free_port

from ._docker_cluster import (
    COMPOSE_FILE,
    COMPOSE_PROJECT_LABEL,
    COMPOSE_TEST_PREFIX,
    REPO,
    SESSION,
    auth_variables,
    check_seed_output,
    compose_services,
    engine,
    management_status,
    run_seed,
    sweep,
)

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_images")]

DEADLINE_S = 180.0  # up, healthy, the seed, down: all of it


def compose_command() -> list[str] | None:
    """docker-compose (v1) when installed, else docker compose (v2), else None."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    v2 = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, timeout=30, check=False
    )
    return ["docker", "compose"] if v2.returncode == 0 else None


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self, at_least: float = 5.0) -> float:
        return max(at_least, self.end - time.monotonic())


@pytest.fixture
def project() -> Iterator[str]:
    """A unique compose project name; nothing of it is left afterwards."""
    name = f"{COMPOSE_TEST_PREFIX}{SESSION}"
    yield name
    client = engine()
    try:
        sweep(client, f"{COMPOSE_PROJECT_LABEL}={name}")
    finally:
        client.close()


def test_compose_file_serves_the_seed_example(project: str) -> None:
    """`up -d` of the compose file settles with every service healthy; the seed example
    runs unchanged against the published scheduler; management reports the cluster ready;
    `down --volumes` removes every container, network and volume of the project."""
    compose = compose_command()
    if compose is None:
        pytest.skip("neither docker-compose nor docker compose is installed")
    deadline = Deadline(DEADLINE_S)
    scheduler_port, management_port = free_port(), free_port()
    env = dict(
        os.environ,
        CLOUDBURST_SCHEDULER_PORT=str(scheduler_port),
        CLOUDBURST_MANAGEMENT_PORT=str(management_port),
        **auth_variables(),
    )
    command = [*compose, "--project-name", project, "--file", str(COMPOSE_FILE)]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args,
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=deadline.left(),
            check=False,
        )

    checked = run(*command, "config", "--quiet")
    assert checked.returncode == 0, checked.stderr
    seed: subprocess.CompletedProcess[str] | None = None
    try:
        up = run(*command, "up", "--detach")
        assert up.returncode == 0, up.stderr
        services = len(compose_services())
        wait = run(
            "bash", "compose/wait-healthy.sh", project, str(services), f"{deadline.left():.0f}"
        )
        assert wait.returncode == 0, wait.stdout + wait.stderr
        assert f"all {services} services healthy" in wait.stdout

        seed = run_seed(scheduler_port, timeout=deadline.left())
        status = management_status(management_port)
        assert status.ready, status
        assert sum(s.kind == "executor" for s in status.services) == 4
    finally:
        down = run(*command, "down", "--volumes", "--remove-orphans", "--timeout", "10")
    assert down.returncode == 0, down.stderr
    client = engine()
    try:
        label = {"label": f"{COMPOSE_PROJECT_LABEL}={project}"}
        assert client.containers.list(all=True, filters=label) == []
        assert client.networks.list(filters=label) == []
        assert client.volumes.list(filters=label) == []
    finally:
        client.close()

    assert seed is not None
    check_seed_output(seed)
