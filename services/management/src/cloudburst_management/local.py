"""Starting, inspecting and stopping a local cluster from a shell or a test.

``LocalCluster.up()`` starts the management service as a detached process group, which in
turn starts the storage, the scheduler, and on each node a cache and its executors; it
returns once every service is healthy. The cluster's state file
(``$CLOUDBURST_HOME/cluster.json``) records the process group, so ``down()`` leaves no
process behind and ``up()`` can clean up a cluster left by a crash.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import grpc
from cloudburst_protocol import auth, config
from cloudburst_protocol.channels import sync_channel
from cloudburst_protocol.errors import AuthenticationError, CloudburstError
from cloudburst_protocol.gen import common_pb2, management_pb2_grpc
from cloudburst_protocol.grpc_errors import error_from_rpc
from cloudburst_protocol.runtime import process_exists
from cloudburst_protocol.tracing import TRACE_DIR_ENV

from cloudburst_management.settings import EXECUTORS_ENV, NODES_ENV, default_executors

STATE_FILE = "cluster.json"
LOCK_FILE = "cluster.lock"
PREVIOUS_TRACES = "previous"


class ClusterStartError(CloudburstError):
    """The local cluster could not be started."""


class PortInUseError(ClusterStartError):
    """A port the cluster needs is taken by another program."""


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    name: str
    kind: str
    address: str
    pid: int
    state: str
    restarts: int
    log_path: str
    # State `backoff`: when the next start is due (unix seconds), else 0.
    next_restart_at: float = 0.0
    # Why it last exited (`exit code 3`, `signal SIGSEGV`); empty if it never did.
    last_exit: str = ""


@dataclass(frozen=True, slots=True)
class QuarantineInfo:
    """A function the scheduler quarantined: why (the last exit) and until when (unix s)."""

    function: str
    reason: str
    until: float


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    ready: bool
    scheduler_address: str
    management_address: str
    services: tuple[ServiceInfo, ...]
    quarantined: tuple[QuarantineInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class ClusterState:
    """What the state file records about a running cluster."""

    pid: int
    pgid: int
    management_address: str
    scheduler_address: str
    executors: int
    started_at: float
    nodes: int = 1
    tls: bool = False


@dataclass(frozen=True, slots=True)
class UpResult:
    already_running: bool
    info: ClusterInfo


class LocalCluster:
    """A local cluster rooted at ``home`` (default ``$CLOUDBURST_HOME`` or ``~/.cloudburst``)."""

    def __init__(
        self,
        home: Path | None = None,
        executors: int | None = None,
        nodes: int = 1,
        host: str | None = None,
        scheduler_port: int | None = None,
        management_port: int | None = None,
        cache_port: int | None = None,
    ) -> None:
        self.home = (home or config.home()).expanduser()
        self.executors = executors if executors is not None else default_executors()
        if self.executors < 1:
            raise ValueError("a cluster needs at least one executor per node")
        if nodes < 1:
            raise ValueError("a cluster needs at least one node")
        self.nodes = nodes
        self.host = host or config.host()
        self.scheduler_port = scheduler_port or config.env_int(
            config.SCHEDULER_PORT_ENV, config.DEFAULT_SCHEDULER_PORT
        )
        self.management_port = management_port or config.env_int(
            config.MANAGEMENT_PORT_ENV, config.DEFAULT_MANAGEMENT_PORT
        )
        self.cache_port = cache_port or config.env_int(
            config.CACHE_PORT_ENV, config.DEFAULT_CACHE_PORT
        )
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def credentials(self) -> auth.Credentials:
        """What this process presents to the cluster: the admin token in the cluster's own
        token file (``home/token``), else ``CLOUDBURST_TOKEN``."""
        found = auth.token_file_credentials(self.home / auth.TOKEN_FILE)
        return found or auth.client_credentials(self.home)

    # -- paths --------------------------------------------------------------------------------

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def scheduler_address(self) -> str:
        return f"{self.host}:{self.scheduler_port}"

    @property
    def management_address(self) -> str:
        return f"{self.host}:{self.management_port}"

    def log_path(self, service: str) -> Path:
        return self.log_dir / f"{service}.log"

    @property
    def trace_dir(self) -> Path:
        """Where the services write their spans (``CLOUDBURST_TRACE_DIR`` or ``traces``)."""
        raw = os.environ.get(TRACE_DIR_ENV, "").strip()
        return Path(raw) if raw else self.home / "traces"

    def rotate_traces(self) -> None:
        """Moves the span files of the last run to ``traces/previous`` (replacing the run
        before it), so the trace files hold only the running cluster's calls. Done by
        ``up`` before the services start and by ``down`` after they stop."""
        directory = self.trace_dir
        current = list(directory.glob("*.jsonl"))
        if not current:
            return
        previous = directory / PREVIOUS_TRACES
        with contextlib.suppress(OSError):
            previous.mkdir(exist_ok=True)
            for old in previous.glob("*.jsonl"):
                old.unlink()
            for path in current:
                path.replace(previous / path.name)

    # -- public API ---------------------------------------------------------------------------

    def up(self, timeout: float = 60.0, progress: Callable[[str], None] | None = None) -> UpResult:
        """Starts the cluster and waits until it is ready; idempotent."""
        with self._locked(timeout):
            state = self.read_state()
            if state is not None:
                info = self.status(state)
                if info is not None and info.ready:
                    return UpResult(True, info)
                if progress:
                    progress("cleaning up a stale cluster")
                self._kill_group(state)
            self._check_ports()
            secrets = auth.ensure_local_secrets(self.home)
            self.rotate_traces()
            self.log_dir.mkdir(parents=True, exist_ok=True)
            env = dict(os.environ)
            env.update(
                {
                    config.ADMIN_TOKEN_ENV: secrets.admin_token,
                    config.CLUSTER_SECRET_ENV: secrets.cluster_secret,
                    config.HOST_ENV: self.host,
                    config.SCHEDULER_PORT_ENV: str(self.scheduler_port),
                    config.MANAGEMENT_PORT_ENV: str(self.management_port),
                    config.CACHE_PORT_ENV: str(self.cache_port),
                    config.HOME_ENV: str(self.home),
                    EXECUTORS_ENV: str(self.executors),
                    NODES_ENV: str(self.nodes),
                    "PYTHONUNBUFFERED": "1",
                }
            )
            for name in (
                config.SCHEDULER_ADDRESS_ENV,
                config.CACHE_ADDRESS_ENV,
                config.MANAGEMENT_ADDRESS_ENV,
            ):
                env.pop(name, None)
            with self.log_path("management").open("ab") as out:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "cloudburst_management"],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    start_new_session=True,
                    close_fds=True,
                )
            state = ClusterState(
                pid=self._process.pid,
                pgid=self._process.pid,
                management_address=self.management_address,
                scheduler_address=self.scheduler_address,
                executors=self.executors,
                nodes=self.nodes,
                started_at=time.time(),
                tls=bool(env.get(config.TLS_CERT_ENV)),
            )
            self._write_state(state)
            try:
                info = self._wait_ready(state, timeout, progress)
            except BaseException:
                self._kill_group(state)
                raise
            return UpResult(False, info)

    def down(self, timeout: float = 15.0) -> bool:
        """Stops the cluster; returns ``False`` if none was running."""
        with self._locked(timeout):
            state = self.read_state()
            if state is None:
                return False
            with contextlib.suppress(grpc.RpcError), self._management(state) as stub:
                stub.Shutdown(common_pb2.Empty(), timeout=2.0)
            self._wait_exit(state.pid, timeout)
            self._kill_group(state)
            self.rotate_traces()
            return True

    def status(self, state: ClusterState | None = None, timeout: float = 2.0) -> ClusterInfo | None:
        """The cluster's services and health, or ``None`` if it does not answer."""
        state = state or self.read_state()
        if state is None or not _alive(state.pid):
            return None
        return cluster_status(state.management_address, timeout, self.credentials)

    def read_state(self) -> ClusterState | None:
        path = self.home / STATE_FILE
        try:
            return ClusterState(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def __enter__(self) -> LocalCluster:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    # -- internals ----------------------------------------------------------------------------

    def _write_state(self, state: ClusterState) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.home / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.replace(self.home / STATE_FILE)

    @contextlib.contextmanager
    def _locked(self, timeout: float) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / LOCK_FILE).open("w") as handle:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ClusterStartError(
                            f"another cbctl is starting or stopping the cluster in {self.home}"
                        ) from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _management(self, state: ClusterState) -> Iterator[management_pb2_grpc.ManagementStub]:
        with sync_channel(state.management_address, self.credentials) as channel:
            yield management_pb2_grpc.ManagementStub(channel)

    def _check_ports(self) -> None:
        for env_name, port in (
            (config.SCHEDULER_PORT_ENV, self.scheduler_port),
            (config.MANAGEMENT_PORT_ENV, self.management_port),
            (config.CACHE_PORT_ENV, self.cache_port),
        ):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((self.host, port))
                except OSError:
                    raise PortInUseError(
                        f"port {port} on {self.host} is in use by another program; "
                        f"free it or choose another port with {env_name}"
                    ) from None

    def _wait_ready(
        self, state: ClusterState, timeout: float, progress: Callable[[str], None] | None
    ) -> ClusterInfo:
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise ClusterStartError(
                    "the cluster failed to start:\n" + self._failure_report(None)
                )
            info = self.status(state, timeout=1.0)
            if info is not None:
                if info.ready:
                    return info
                failed = [s for s in info.services if s.state == "failed"]
                if failed:
                    raise ClusterStartError(
                        f"{failed[0].name} failed to start:\n" + self._failure_report(failed[0])
                    )
                waiting = [s.name for s in info.services if s.state != "running"]
                message = "waiting for " + (", ".join(waiting) if waiting else "services")
                if progress and message != last:
                    progress(message)
                    last = message
            if time.monotonic() > deadline:
                raise ClusterStartError(
                    f"the cluster was not ready after {timeout:g} s:\n" + self._failure_report(None)
                )
            time.sleep(0.1)

    def _failure_report(self, service: ServiceInfo | None) -> str:
        paths = [Path(service.log_path)] if service else sorted(self.log_dir.glob("*.log"))
        lines: list[str] = []
        for path in paths:
            with contextlib.suppress(OSError):
                tail = path.read_text(errors="replace").splitlines()[-8:]
                lines.append(f"--- {path}")
                lines.extend(tail)
        return "\n".join(lines)

    def _wait_exit(self, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            if self._process is not None and self._process.pid == pid:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._process.wait(timeout=max(0.0, deadline - time.monotonic()))
                continue
            time.sleep(0.05)

    def _kill_group(self, state: ClusterState) -> None:
        """Ends every process of the cluster's group, then forgets the cluster."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(state.pgid, sig)
            deadline = time.monotonic() + (3.0 if sig == signal.SIGTERM else 5.0)
            while _group_alive(state.pgid) and time.monotonic() < deadline:
                if self._process is not None:
                    self._process.poll()  # reap our own child so it does not linger
                time.sleep(0.05)
            if not _group_alive(state.pgid):
                break
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=1)
            self._process = None
        with contextlib.suppress(FileNotFoundError):
            (self.home / STATE_FILE).unlink()


def cluster_status(
    management_address: str, timeout: float = 2.0, credentials: auth.Credentials | None = None
) -> ClusterInfo | None:
    """What the management service at ``management_address`` reports (any cluster: local,
    or containers with management in observer mode), or ``None`` if it does not answer.
    Raises :class:`AuthenticationError` if it answers but refuses the credentials (by
    default the client's: ``CLOUDBURST_TOKEN`` or ``$CLOUDBURST_HOME/token``)."""
    credentials = credentials or auth.client_credentials()
    try:
        with sync_channel(management_address, credentials) as channel:
            stub = management_pb2_grpc.ManagementStub(channel)
            reply = stub.Status(common_pb2.Empty(), timeout=timeout)
    except grpc.RpcError as exc:
        error = error_from_rpc(exc, management_address)
        if isinstance(error, AuthenticationError):
            raise credentials.explain(error) from None
        return None
    return ClusterInfo(
        ready=reply.ready,
        scheduler_address=reply.scheduler_address,
        management_address=management_address,
        services=tuple(
            ServiceInfo(
                s.name,
                s.kind,
                s.address,
                s.pid,
                s.state,
                s.restarts,
                s.log_path,
                next_restart_at=s.next_restart_at,
                last_exit=s.last_exit,
            )
            for s in reply.services
        ),
        quarantined=tuple(QuarantineInfo(q.function, q.reason, q.until) for q in reply.quarantined),
    )


def _alive(pid: int) -> bool:
    return process_exists(pid) and not _is_zombie(pid)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies still count for killpg; look for a live member.
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def _is_zombie(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] == "Z"


__all__ = [
    "ClusterInfo",
    "ClusterStartError",
    "ClusterState",
    "LocalCluster",
    "PortInUseError",
    "QuarantineInfo",
    "ServiceInfo",
    "UpResult",
    "cluster_status",
]
