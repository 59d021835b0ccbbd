"""The images themselves: labelled, non-root, small, with a real health check; the storage
engine's image serves; the management image starts (alone it runs a whole local cluster
inside its container, so it is only started here, not made part of a cluster)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ._docker_cluster import LABELS, Cluster, engine, image, network_cluster

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_images")]

SERVICES = {"cache": 7072, "scheduler": 7070, "executor": 7080, "management": 7071}
MAX_IMAGE_MB = 200


@pytest.fixture(scope="module")
def client(docker_images: None) -> Iterator[Any]:
    client = engine()
    yield client
    client.close()


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_image(client: Any, service: str) -> None:
    config = client.images.get(image(service)).attrs["Config"]
    assert config["Labels"]["org.cloudburst.project"] == "cloudburst"
    assert config["Labels"]["org.cloudburst.service"] == service
    assert config["User"] == "cloudburst"
    assert "CLOUDBURST_HOST=0.0.0.0" in config["Env"]
    port = SERVICES[service]
    assert f"{port}/tcp" in config["ExposedPorts"]
    assert config["Healthcheck"]["Test"][:4] == [
        "CMD",
        "python",
        "-m",
        "cloudburst_protocol.healthcheck",
    ]
    assert config["Healthcheck"]["Test"][-1] == f"127.0.0.1:{port}"
    size_mb = client.images.get(image(service)).attrs["Size"] / 1e6
    assert size_mb < MAX_IMAGE_MB


def test_service_image_holds_no_build_tools(client: Any) -> None:
    """The venv has the services and their dependencies, and neither pip nor setuptools; the
    process runs as an unprivileged user."""
    script = (
        "id -u; ls /opt/cloudburst/bin; "
        "python -c 'import cloudburst_cache, cloudburst_scheduler, cloudburst_executor, "
        'cloudburst_management; print("imports ok")\'; '
        "for t in pip pip3 gcc cc make; do command -v $t || true; done"
    )
    out = client.containers.run(
        image("executor"),
        ["sh", "-c", script],
        network_mode="none",
        labels=LABELS,
        remove=True,
    ).decode()
    lines = out.split()
    assert lines[0] != "0"
    assert "imports ok" in out
    assert not any(tool in lines for tool in ("pip", "pip3", "gcc", "cc", "make"))
    assert not any(line.endswith(("/pip", "/pip3", "/gcc", "/make")) for line in lines)


@pytest.fixture
def cluster(docker_images: None) -> Iterator[Cluster]:
    with network_cluster() as cluster:
        yield cluster


def test_redis_image_serves(client: Any, cluster: Cluster) -> None:
    config = client.images.get(image("redis")).attrs["Config"]
    assert config["Labels"]["org.cloudburst.project"] == "cloudburst"
    assert config["User"] == "redis"
    assert "redis-cli" in " ".join(config["Healthcheck"]["Test"])
    cluster.start("redis", "redis")
    cluster.wait_healthy("redis", within=60)
    redis = cluster.containers["redis"]
    assert redis.exec(["redis-cli", "set", "k", "v"]).output.strip() == b"OK"
    assert redis.exec(["redis-cli", "get", "k"]).output.strip() == b"v"
    assert redis.exec(["redis-cli", "config", "get", "appendonly"]).output.split()[-1] == b"yes"


def test_management_image_starts(cluster: Cluster) -> None:
    cluster.start("management", "management", env={"CLOUDBURST_EXECUTORS": "1"})
    cluster.wait_healthy("management", within=60)
