"""The integration suite's helpers: preparing the engine and the images, and clusters of
Cloudburst containers on their own Docker network, laid out as compose/docker-compose.yml lays
them out (the file is read here, so the suite and `make compose-up` cannot drift apart). See
conftest.py for how they are used."""

from __future__ import annotations

import os

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # before testcontainers loads

import contextlib
import re
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import docker  # type: ignore[import-untyped]
import docker.errors  # type: ignore[import-untyped]
import yaml
from cloudburst_protocol import auth, config
from cloudburst_protocol.channels import sync_channel
from cloudburst_protocol.gen import common_pb2, management_pb2, management_pb2_grpc
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "compose" / "docker-compose.yml"
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
MANAGEMENT_PORT = 7071
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


def _older(created: str, older_than: timedelta | None) -> bool:
    """Whether a Docker object created at ``created`` is older than ``older_than`` (any
    age when that is None)."""
    if older_than is None:
        return True
    try:  # e.g. 2026-11-22T00:07:48.527254467Z: keep microseconds, the engine writes UTC
        stamp = datetime.fromisoformat(created[:26].rstrip("Z") + "+00:00")
    except ValueError:
        return False
    return datetime.now(UTC) - stamp > older_than


def sweep(client: Any, label: str, older_than: timedelta | None = None) -> None:
    """Removes the containers (with their anonymous volumes), networks and volumes carrying
    ``label`` (``key=value``); with ``older_than``, only those created longer ago than that."""
    for container in client.containers.list(all=True, filters={"label": label}):
        if _older(container.attrs["Created"], older_than):
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True, v=True)
    for network in client.networks.list(filters={"label": label}):
        if _older(network.attrs["Created"], older_than):
            with contextlib.suppress(docker.errors.APIError):
                network.remove()
    for volume in client.volumes.list(filters={"label": label}):
        if _older(volume.attrs.get("CreatedAt", ""), older_than):
            with contextlib.suppress(docker.errors.APIError):
                volume.remove(force=True)


COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
COMPOSE_TEST_PREFIX = "cbtest"  # projects the suite brings up with docker compose


def sweep_compose(client: Any, older_than: timedelta) -> None:
    """Removes what is left of the suite's compose projects (``cbtest...``) created longer
    ago than ``older_than``."""
    found = {"label": COMPOSE_PROJECT_LABEL}
    objects = [
        *client.containers.list(all=True, filters=found),
        *client.networks.list(filters=found),
        *client.volumes.list(filters=found),
    ]
    # Containers have .labels; networks and volumes keep theirs in attrs.
    labels = [getattr(o, "labels", None) or o.attrs.get("Labels") or {} for o in objects]
    projects = {label.get(COMPOSE_PROJECT_LABEL, "") for label in labels}
    for project in sorted(p for p in projects if p.startswith(COMPOSE_TEST_PREFIX)):
        sweep(client, f"{COMPOSE_PROJECT_LABEL}={project}", older_than)


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
        sweep_compose(client, older_than=STALE_AFTER)
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
        publish: tuple[int, ...] | int = (),
        hostname: str | None = None,
    ) -> DockerContainer:
        """Starts a container of ``cloudburst/<service>`` named ``name`` on the network
        (reachable as ``name`` and ``aliases``); each port of ``publish`` is mapped to a free
        port on 127.0.0.1 of the host. ``hostname`` sets the container's host name (what an
        executor advertises), as compose's ``hostname:`` does. Every container gets the
        session's credentials (:func:`auth_variables`) unless ``env`` sets its own."""
        extra = {"hostname": hostname} if hostname else {}
        container = DockerContainer(
            image(service),
            env={**auth_variables(), **(env or {})},
            network=self.network,
            network_aliases=[name, *aliases],
            labels={**LABELS, "org.cloudburst.test-role": name},
            **extra,
        )
        for port in (publish,) if isinstance(publish, int) else publish:
            # 127.0.0.1 only, on a free port the engine picks.
            container.ports[f"{port}/tcp"] = ("127.0.0.1", None)  # type: ignore[assignment]
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


# -- the compose file's cluster ------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSpec:
    """One service of compose/docker-compose.yml: its image (``cache``, ``executor``, ...),
    environment, host name, the services it starts after, and the ports it publishes."""

    name: str
    image: str
    env: dict[str, str]
    hostname: str
    depends_on: tuple[str, ...]
    publish: tuple[int, ...]


_VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?]([^}]*))?\}")


def auth_variables() -> dict[str, str]:
    """The compose file's credentials for this test session: the session's cluster secret,
    and its client token as the admin token (tests/conftest.py sets both)."""
    return {
        config.CLUSTER_SECRET_ENV: os.environ[config.CLUSTER_SECRET_ENV],
        config.ADMIN_TOKEN_ENV: os.environ[config.TOKEN_ENV],
    }


def compose_services(variables: Mapping[str, str] | None = None) -> dict[str, ServiceSpec]:
    """The services of compose/docker-compose.yml in start order (each after those it
    depends on), with ``${VAR:-default}`` taken from ``variables`` or the default."""
    given = {**auth_variables(), **(variables or {})}
    text = _VARIABLE.sub(
        lambda m: given.get(m.group(1), m.group(2) or ""), COMPOSE_FILE.read_text()
    )
    services: dict[str, Any] = yaml.safe_load(text)["services"]
    specs: dict[str, ServiceSpec] = {}
    for name, service in services.items():
        repository = str(service["image"]).split(":")[0]
        assert repository.startswith("cloudburst/"), repository
        specs[name] = ServiceSpec(
            name=name,
            image=repository.removeprefix("cloudburst/"),
            env={
                k: " ".join(str(v).split()) for k, v in (service.get("environment") or {}).items()
            },
            hostname=str(service.get("hostname", "")),
            depends_on=tuple(service.get("depends_on") or ()),
            publish=tuple(
                int(str(p).split(":")[-1].split("/")[0]) for p in service.get("ports", ())
            ),
        )
    ordered: dict[str, ServiceSpec] = {}
    while len(ordered) < len(specs):
        ready = [
            s for s in specs.values() if s.name not in ordered and set(s.depends_on) <= set(ordered)
        ]
        assert ready, f"depends_on has a cycle: {sorted(set(specs) - set(ordered))}"
        ordered.update((s.name, s) for s in ready)
    return ordered


def start_compose_cluster(
    cluster: Cluster,
    schedulers: Mapping[str, Mapping[str, str]] | None = None,
    variables: Mapping[str, str] | None = None,
) -> dict[str, ServiceSpec]:
    """Starts compose/docker-compose.yml's services as containers of ``cluster`` (same
    images, environment, host names and network names; published ports go to free ports on
    127.0.0.1), plus a copy of its scheduler per entry of ``schedulers`` (name -> extra
    settings), which every executor also attaches to. ``variables`` are the compose file's
    ``${VAR}`` settings (e.g. ``CLOUDBURST_PLACEMENT``). Returns once all are healthy.

    Containers start in compose's order but without waiting stage by stage: every service
    waits for what it needs itself, and the health checks' first run (5 s after start) would
    otherwise add up per stage."""
    specs = dict(compose_services(variables))
    for name, settings in (schedulers or {}).items():
        base = specs["scheduler"]
        env = {**base.env, "CLOUDBURST_SCHEDULER_ID": name, **settings}
        specs[name] = ServiceSpec(name, base.image, env, name, base.depends_on, base.publish)
    attach = ",".join(f"{name}:{SCHEDULER_PORT}" for name in ("scheduler", *(schedulers or {})))
    for spec in specs.values():
        env = dict(spec.env)
        if spec.image == "executor":
            env["CLOUDBURST_SCHEDULER_ADDRESS"] = attach
        cluster.start(spec.name, spec.image, env=env, publish=spec.publish, hostname=spec.hostname)
    cluster.wait_healthy()
    return specs


# -- using a cluster from the host ---------------------------------------------------------------

# The README's quickstart as the original `test.py`, verbatim.
SEED_SCRIPT = textwrap.dedent(
    """
    from cloudburst.client.client import CloudburstConnection
    local_cloud = CloudburstConnection('127.0.0.1', '127.0.0.1', local=True)
    cloud_sq = local_cloud.register(lambda _, x: x * x, 'square')
    print(cloud_sq(2).get())
    print(local_cloud.register_dag('dag', ['square'], []))
    print(local_cloud.call_dag('dag', { 'square': [2] }).get())
    """
)
SEED_OUTPUT = ["4", "(True, 0)", "4", ""]
SEED_CALL_TIMEOUT_S = "30"


def run_seed(port: int, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """The seed script in a fresh interpreter on the host; only the port comes from the
    environment, as with a local cluster on a non-default port."""
    env = dict(
        os.environ,
        CLOUDBURST_SCHEDULER_PORT=str(port),
        CLOUDBURST_CALL_TIMEOUT=SEED_CALL_TIMEOUT_S,
    )
    return subprocess.run(
        [sys.executable, "-c", SEED_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def check_seed_output(done: subprocess.CompletedProcess[str]) -> None:
    """The seed script printed what the README shows (from the host, whose client cannot
    reach the executors on the Docker network and falls back to the scheduler)."""
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n") == SEED_OUTPUT


def management_status(port: int) -> management_pb2.ClusterStatus:
    """Management's ``Status`` through its port published on 127.0.0.1."""
    with sync_channel(f"127.0.0.1:{port}", auth.client_credentials()) as channel:
        status: management_pb2.ClusterStatus = management_pb2_grpc.ManagementStub(channel).Status(
            common_pb2.Empty(), timeout=10
        )
    return status
