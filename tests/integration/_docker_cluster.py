"""The integration suite's helpers: preparing the engine and the images, and clusters of
Cloudburst containers on their own Docker network. See conftest.py for how they are used."""

from __future__ import annotations

import os

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # before testcontainers loads

import contextlib
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import docker  # type: ignore[import-untyped]
import docker.errors  # type: ignore[import-untyped]
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

REPO = Path(__file__).resolve().parents[2]
TAG = os.environ.get("CLOUDBURST_IMAGE_TAG", "dev")
SESSION = uuid.uuid4().hex[:12]
TEST_LABEL = "org.cloudburst.test"
SESSION_LABEL = "org.cloudburst.test-session"
LABELS = {
    "org.cloudburst.project": "cloudburst",
    TEST_LABEL: "integration",
    SESSION_LABEL: SESSION,
}
MAKE_IMAGES_TIMEOUT_S = 900.0
HEALTHY_WITHIN_S = 90.0
STALE_AFTER = timedelta(hours=1)

SCHEDULER_PORT = 7070
CACHE_PORT = 7072
EXECUTOR_PORT = 7080


def image(name: str) -> str:
    return f"cloudburst/{name}:{TAG}"


# -- before the first test: the engine and the images ------------------------------------------


@dataclass
class Preparation:
    done: bool = False
    engine_error: str | None = None
    build_error: str | None = None
    build_seconds: float = 0.0


PREPARATION = Preparation()


def engine() -> Any:
    """A client of the local Docker engine (raises when it does not answer)."""
    client = docker.from_env(timeout=30)
    client.ping()
    return client


def sweep(client: Any, label: str, older_than: timedelta | None = None) -> None:
    """Removes the containers (with their anonymous volumes) and networks carrying ``label``
    (``key=value``); with ``older_than``, only those created longer ago than that."""
    now = datetime.now(UTC)

    def old(created: str) -> bool:
        if older_than is None:
            return True
        try:  # e.g. 2026-11-22T00:07:48.527254467Z: keep microseconds, the engine writes UTC
            stamp = datetime.fromisoformat(created[:26].rstrip("Z") + "+00:00")
        except ValueError:
            return False
        return now - stamp > older_than

    for container in client.containers.list(all=True, filters={"label": label}):
        if old(container.attrs["Created"]):
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True, v=True)
    for network in client.networks.list(filters={"label": label}):
        if old(network.attrs["Created"]):
            with contextlib.suppress(docker.errors.APIError):
                network.remove()


def prepare(reporter: Any = None) -> None:
    """Checks the engine, sweeps stale leftovers, and runs ``make images`` once."""
    if PREPARATION.done:
        return
    PREPARATION.done = True
    try:
        client = engine()
    except Exception as exc:
        PREPARATION.engine_error = f"the Docker engine is not reachable: {exc}"
        return
    try:
        sweep(client, f"{TEST_LABEL}=integration", older_than=STALE_AFTER)
    finally:
        client.close()
    log = REPO / "build" / "integration-make-images.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if reporter is not None:
        reporter.write_line(f"integration: make images (log: {log.relative_to(REPO)})")
    started = time.monotonic()
    with log.open("w") as out:
        try:
            done = subprocess.run(
                ["make", "--no-print-directory", "images"],
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=MAKE_IMAGES_TIMEOUT_S,
                check=False,
            )
            failed = done.returncode != 0
        except subprocess.TimeoutExpired:
            failed = True
            out.write(f"\nmake images: still running after {MAKE_IMAGES_TIMEOUT_S:g} s\n")
    PREPARATION.build_seconds = time.monotonic() - started
    if failed:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        PREPARATION.build_error = f"make images failed; the end of {log}:\n{tail}"
    elif reporter is not None:
        reporter.write_line(f"integration: images ready in {PREPARATION.build_seconds:.0f} s")


# -- clusters -------------------------------------------------------------------------------------


class ClusterError(AssertionError):
    pass


@dataclass
class Cluster:
    """Containers of one cluster on their own network, removed together by ``close``."""

    network: Network
    containers: dict[str, DockerContainer] = field(default_factory=dict)

    def start(
        self,
        name: str,
        service: str,
        env: Mapping[str, str] | None = None,
        aliases: tuple[str, ...] = (),
        publish: int | None = None,
    ) -> DockerContainer:
        """Starts a container of ``cloudburst/<service>`` named ``name`` on the network
        (reachable as ``name`` and ``aliases``); ``publish`` maps that port to a free port on
        127.0.0.1 of the host."""
        container = DockerContainer(
            image(service),
            env=dict(env or {}),
            network=self.network,
            network_aliases=[name, *aliases],
            labels={**LABELS, "org.cloudburst.test-role": name},
        )
        if publish is not None:
            # 127.0.0.1 only, on a free port the engine picks.
            container.ports[f"{publish}/tcp"] = ("127.0.0.1", None)  # type: ignore[assignment]
        self.containers[name] = container
        container.start()
        return container

    def raw(self, name: str) -> Any:
        """The docker-py container, refreshed."""
        wrapped = self.containers[name].get_wrapped_container()
        wrapped.reload()
        return wrapped

    def published_port(self, name: str, port: int) -> int:
        bindings = self.raw(name).attrs["NetworkSettings"]["Ports"][f"{port}/tcp"]
        (binding,) = bindings
        assert binding["HostIp"] == "127.0.0.1", bindings
        return int(binding["HostPort"])

    def hostname(self, name: str) -> str:
        return str(self.raw(name).attrs["Config"]["Hostname"])

    def health(self, name: str) -> str:
        state = self.raw(name).attrs["State"]
        if state["Status"] in ("exited", "dead"):
            return f"{state['Status']} (exit code {state.get('ExitCode')})"
        return str(state.get("Health", {}).get("Status", "no healthcheck"))

    def wait_healthy(self, *names: str, within: float = HEALTHY_WITHIN_S) -> float:
        """Waits until Docker reports every named container healthy (its image's gRPC health
        check); fails at once when one exits or turns unhealthy. Returns the seconds waited."""
        started = time.monotonic()
        deadline = started + within
        pending = list(names or self.containers)
        while pending:
            for name in list(pending):
                status = self.health(name)
                if status == "healthy":
                    pending.remove(name)
                elif status != "starting":
                    raise ClusterError(f"{name} is {status}:\n{self.logs(name)}")
            if not pending:
                break
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"not healthy after {within:g} s: {', '.join(pending)}\n"
                    + "\n".join(self.logs(n) for n in pending)
                )
            time.sleep(0.25)
        return time.monotonic() - started

    def logs(self, name: str, lines: int = 30) -> str:
        with contextlib.suppress(Exception):
            raw = self.containers[name].get_wrapped_container().logs(tail=lines)
            return f"--- {name} (last {lines} log lines)\n{raw.decode(errors='replace')}"
        return f"--- {name}: no logs"

    def close(self) -> None:
        for container in self.containers.values():
            with contextlib.suppress(Exception):
                container.stop()
        with contextlib.suppress(Exception):
            self.network.remove()
        client = engine()
        try:
            sweep(client, f"{SESSION_LABEL}={SESSION}")
        finally:
            client.close()


@contextlib.contextmanager
def network_cluster() -> Iterator[Cluster]:
    """An empty cluster on a fresh labelled network; everything in it is removed on exit."""
    network = Network(docker_network_kw={"labels": LABELS})
    network.create()
    cluster = Cluster(network)
    try:
        yield cluster
    finally:
        cluster.close()


def start_cloudburst(
    cluster: Cluster,
    executors: int = 2,
    schedulers: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """A cache, the given schedulers (name -> extra settings; each published on 127.0.0.1)
    and ``executors`` executors attached to every scheduler; returns once all are healthy.
    Executors get no host name or advertise setting: they advertise their container's host
    name, which the network's DNS resolves for their peers."""
    schedulers = schedulers or {"scheduler": {}}
    cache = f"cache:{CACHE_PORT}"
    cluster.start("cache", "cache")
    for name, settings in schedulers.items():
        cluster.start(
            name,
            "scheduler",
            env={"CLOUDBURST_CACHE_ADDRESS": cache, **settings},
            publish=SCHEDULER_PORT,
        )
    attach = ",".join(f"{name}:{SCHEDULER_PORT}" for name in schedulers)
    for i in range(1, executors + 1):
        cluster.start(
            f"executor{i}",
            "executor",
            # One cache, so one node: the executors keep the default node id.
            env={"CLOUDBURST_CACHE_ADDRESS": cache, "CLOUDBURST_SCHEDULER_ADDRESS": attach},
        )
    cluster.wait_healthy()
