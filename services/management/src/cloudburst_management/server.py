"""The management service in local mode: it starts the cluster's processes (cache,
scheduler, executors), restarts those that die, reports each one's health, and stops them all
on ``Shutdown`` or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import grpc.aio
import structlog
from cloudburst_protocol import config
from cloudburst_protocol.auth import service_credentials
from cloudburst_protocol.channels import aio_channel
from cloudburst_protocol.gen import (
    common_pb2,
    management_pb2,
    management_pb2_grpc,
    scheduler_pb2,
    scheduler_pb2_grpc,
)
from cloudburst_protocol.running import read_running
from cloudburst_protocol.runtime import listen, new_server, set_serving
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cloudburst_management.settings import ManagementSettings
from cloudburst_management.supervision import RestartBackoff, exit_reason

log = structlog.get_logger("cloudburst.management")

STOP_GRACE_S = 5.0
QUARANTINE_LOOKUP_S = 0.5
REPORT_ATTEMPTS = 5
REPORT_TIMEOUT_S = 2.0
RESTART_HEALTHY_S = 30.0
"""A restarted process not healthy after this long is killed (and restarted again)."""


@dataclass(eq=False)
class Child:
    """One supervised service process."""

    name: str
    kind: str
    module: str
    env: dict[str, str]
    log_path: Path
    address: str = ""
    process: asyncio.subprocess.Process | None = None
    state: str = "starting"
    restarts: int = 0
    backoff: RestartBackoff = field(default_factory=RestartBackoff)
    watcher: asyncio.Task[None] | None = None


class Supervisor:
    def __init__(self, settings: ManagementSettings) -> None:
        self.settings = settings
        self.children: list[Child] = []
        self.stopping = False
        self.ready = False
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._reports: set[asyncio.Task[None]] = set()

    def _child(self, name: str, kind: str, module: str, extra: dict[str, str]) -> Child:
        s = self.settings
        env = dict(os.environ)
        env.update(
            {
                config.HOST_ENV: s.host,
                config.SCHEDULER_PORT_ENV: str(s.scheduler_port),
                config.SCHEDULER_ADDRESS_ENV: s.scheduler_address,
                config.CACHE_PORT_ENV: str(s.cache_port),
                config.CACHE_ADDRESS_ENV: s.cache_address,
                config.MANAGEMENT_ADDRESS_ENV: s.address,
                config.HOME_ENV: str(s.home),
                "PYTHONUNBUFFERED": "1",
            }
        )
        for variable, value in config.SERVICE_ENV_DEFAULTS.items():
            env.setdefault(variable, value)
        env[config.INSTANCE_ENV] = name
        env.update(extra)
        backoff = RestartBackoff(s.restart_base_s, s.restart_max_s)
        return Child(name, kind, module, env, s.log_dir / f"{name}.log", backoff=backoff)

    def plan(self) -> None:
        """The cluster's processes: the storage authority, the scheduler, and per node a
        cache (on a unix socket) with its executors."""
        s = self.settings
        storage = self._child(
            "storage", "storage", "cloudburst_cache", {"CLOUDBURST_CACHE_ROLE": "authority"}
        )
        storage.address = s.cache_address
        scheduler = self._child(
            "scheduler", "scheduler", "cloudburst_scheduler", {"CLOUDBURST_SCHEDULER_ID": "sched-0"}
        )
        scheduler.address = s.scheduler_address
        self.children = [storage, scheduler]
        for k in range(s.nodes):
            node = f"node{k}"
            socket_path = s.home / "run" / f"{node}-cache.sock"
            socket_path.parent.mkdir(parents=True, exist_ok=True)
            cache_address = f"unix:{socket_path}"
            cache = self._child(
                f"{node}-cache",
                "cache",
                "cloudburst_cache",
                {
                    "CLOUDBURST_CACHE_ROLE": "node",
                    "CLOUDBURST_CACHE_SOCKET": str(socket_path),
                    config.CACHE_PORT_ENV: "0",
                    config.STORAGE_ADDRESS_ENV: s.cache_address,
                    config.NODE_ID_ENV: node,
                },
            )
            cache.address = cache_address
            self.children.append(cache)
            for i in range(s.executors):
                self.children.append(
                    self._child(
                        f"{node}-executor{i}",
                        "executor",
                        "cloudburst_executor",
                        {
                            config.EXECUTOR_ID_ENV: f"{node}-exec{i}",
                            config.NODE_ID_ENV: node,
                            config.CACHE_ADDRESS_ENV: cache_address,
                            config.RUNNING_FILE_ENV: str(
                                s.home / "run" / f"{node}-executor{i}.running"
                            ),
                        },
                    )
                )

    def _stages(self) -> list[list[Child]]:
        """Start order: each stage becomes healthy before the next starts."""
        return [
            [c for c in self.children if c.kind == kind]
            for kind in ("storage", "scheduler", "cache", "executor")
        ]

    async def _spawn(self, child: Child) -> None:
        child.log_path.parent.mkdir(parents=True, exist_ok=True)
        with child.log_path.open("ab") as out:
            child.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                child.module,
                env=child.env,
                stdout=out,
                stderr=out,
                stdin=asyncio.subprocess.DEVNULL,
            )
        child.state = "starting"
        child.backoff.started(time.time())
        log.info("service started", service=child.name, pid=child.process.pid)
        child.watcher = asyncio.create_task(self._watch(child))

    async def _watch(self, child: Child) -> None:
        """Waits for the child's exit and restarts it, as often as it takes: the delay backs
        off (see :class:`RestartBackoff`) but the supervisor never gives up."""
        assert child.process is not None
        code = await child.process.wait()
        reason = exit_reason(code)
        if code == config.EXIT_CONFIG and not self.stopping:
            # The service said restarting cannot help (its data directory is another
            # version's, or in use): no crash loop; the state and its log say why.
            child.backoff.exited(time.time(), reason)
            child.backoff.next_attempt = None
            child.state = "failed"
            log.error("service cannot start: not restarting it", service=child.name, reason=reason)
            return
        if child.kind == "executor" and not self.stopping:
            self._attribute_death(child, reason)
        while not self.stopping:
            restart = child.backoff.exited(time.time(), reason)
            child.state = "backoff"
            log.warning(
                "service exited",
                service=child.name,
                reason=reason,
                restart_in=round(restart.at - time.time(), 3),
                failures=child.backoff.failures,
            )
            await asyncio.sleep(max(0.0, restart.at - time.time()))
            if self.stopping:
                return
            child.restarts += 1
            try:
                await self._spawn(child)
            except OSError as exc:  # e.g. out of processes: try again later
                reason = f"could not start: {exc}"
                continue
            if not await self._wait_healthy(child, RESTART_HEALTHY_S):
                process = child.process
                if process is not None and process.returncode is None:
                    log.warning("service did not become healthy: replacing it", service=child.name)
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
            return
        child.state = "stopped"

    def _attribute_death(self, child: Child, reason: str) -> None:
        """Tells the scheduler which function the dead executor was running (from its
        running file), so repeated deaths quarantine that function."""
        running_file = child.env.get(config.RUNNING_FILE_ENV)
        running = read_running(Path(running_file)) if running_file else None
        if running is None:
            return
        function, call_id = running
        log.warning(
            "executor died running a call",
            service=child.name,
            function=function,
            call_id=call_id,
            reason=reason,
        )
        report = scheduler_pb2.ExecutorExit(
            executor_id=child.env.get(config.EXECUTOR_ID_ENV, child.name),
            function=function,
            call_id=call_id,
            reason=reason,
        )
        task = asyncio.create_task(self._report_exit(report))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def _report_exit(self, report: scheduler_pb2.ExecutorExit) -> None:
        channel = self._channel(self.settings.scheduler_address)
        delay = 0.1
        for _ in range(REPORT_ATTEMPTS):
            try:
                await scheduler_pb2_grpc.SchedulerStub(channel).ExecutorExited(
                    report, timeout=REPORT_TIMEOUT_S
                )
                return
            except grpc.RpcError as exc:
                log.info("reporting an executor death failed", error=str(exc)[:200])
            await asyncio.sleep(delay)
            delay *= 2
        log.warning("executor death not reported", function=report.function)

    def _channel(self, address: str) -> grpc.aio.Channel:
        """The long-lived channel to ``address`` (made on first use, with the secret)."""
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = aio_channel(address, service_credentials())
        return channel

    async def _health(self, address: str, timeout: float = 1.0) -> bool:
        channel = self._channel(address)
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout
            )
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    async def _wait_healthy(self, child: Child, timeout: float) -> bool:
        """Waits until the child answers its health check; gRPC's wait-for-ready does the
        waiting, so there is no sleep loop here."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.process is None or child.process.returncode is not None:
                return False
            if child.kind == "executor":
                if await self._executor_attached(child):
                    child.state = "running"
                    child.backoff.healthy(time.time())
                    return True
                await asyncio.sleep(0.05)
                continue
            channel = self._channel(child.address)
            with contextlib.suppress(TimeoutError, grpc.RpcError):
                await asyncio.wait_for(
                    channel.channel_ready(), max(0.05, deadline - time.monotonic())
                )
            if await self._health(child.address):
                child.state = "running"
                child.backoff.healthy(time.time())
                return True
            await asyncio.sleep(0.05)
        return False

    async def _executor_attached(self, child: Child) -> bool:
        assert child.process is not None
        channel = self._channel(self.settings.scheduler_address)
        try:
            status = await scheduler_pb2_grpc.SchedulerStub(channel).Status(
                common_pb2.Empty(), timeout=1.0
            )
        except grpc.RpcError:
            return False
        for executor in status.executors:
            if executor.pid == child.process.pid:
                child.address = executor.address
                return True
        return False

    async def start(self) -> None:
        self.plan()
        for stage in self._stages():
            for child in stage:
                await self._spawn(child)
            results = await asyncio.gather(*(self._wait_healthy(c, 60) for c in stage))
            for child, ok in zip(stage, results, strict=True):
                if not ok:
                    child.state = "failed"
                    raise RuntimeError(f"{child.name} did not become healthy; see {child.log_path}")
        self.ready = True
        log.info("cluster ready", nodes=self.settings.nodes, executors=self.settings.executors)

    async def stop(self) -> None:
        self.stopping = True
        self.ready = False
        # Executors first, the store last, so in-flight work can still write.
        for group in reversed(self._stages()):
            procs = [c.process for c in group if c.process and c.process.returncode is None]
            for proc in procs:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
            if procs:
                _, pending = await asyncio.wait(
                    [asyncio.create_task(p.wait()) for p in procs], timeout=STOP_GRACE_S
                )
                for proc in procs:
                    if proc.returncode is None:
                        with contextlib.suppress(ProcessLookupError):
                            proc.kill()
                for task in pending:
                    await task
        for channel in self._channels.values():
            await channel.close()

    async def quarantined(self) -> list[scheduler_pb2.QuarantinedFunction]:
        """What the scheduler has quarantined (nothing if it does not answer at once)."""
        channel = self._channel(self.settings.scheduler_address)
        try:
            status = await scheduler_pb2_grpc.SchedulerStub(channel).Status(
                common_pb2.Empty(), timeout=QUARANTINE_LOOKUP_S
            )
        except grpc.RpcError:
            return []
        return list(status.quarantined)

    def status(self) -> management_pb2.ClusterStatus:
        return management_pb2.ClusterStatus(
            ready=self.ready,
            scheduler_address=self.settings.scheduler_address,
            services=[
                management_pb2.ServiceStatus(
                    name="management",
                    kind="management",
                    address=self.settings.address,
                    pid=os.getpid(),
                    state="running",
                    log_path=str(self.settings.log_dir / "management.log"),
                ),
                *(
                    management_pb2.ServiceStatus(
                        name=c.name,
                        kind=c.kind,
                        address=c.address,
                        pid=c.process.pid if c.process else 0,
                        state=c.state,
                        restarts=c.restarts,
                        log_path=str(c.log_path),
                        next_restart_at=(
                            c.backoff.next_attempt or 0.0 if c.state == "backoff" else 0.0
                        ),
                        last_exit=c.backoff.last_exit,
                    )
                    for c in self.children
                ),
            ],
        )


class ManagementServicer(management_pb2_grpc.ManagementServicer):
    def __init__(self, supervisor: Supervisor, stop_event: asyncio.Event) -> None:
        self.supervisor = supervisor
        self.stop_event = stop_event

    async def Status(
        self, request: common_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> management_pb2.ClusterStatus:
        status = self.supervisor.status()
        if self.supervisor.ready:  # while starting there is nothing to ask the scheduler
            status.quarantined.extend(await self.supervisor.quarantined())
        return status

    async def Shutdown(
        self, request: common_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> common_pb2.Empty:
        self.stop_event.set()
        return common_pb2.Empty()


async def serve(settings: ManagementSettings) -> int:
    stop_event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_event.set)
    supervisor = Supervisor(settings)
    server, health = new_server("the management")
    management_pb2_grpc.add_ManagementServicer_to_server(
        ManagementServicer(supervisor, stop_event), server
    )
    if listen(server, settings.address) == 0:
        raise OSError(f"management cannot listen on {settings.address}")
    await server.start()
    await set_serving(health, True)
    log.info("management serving", address=settings.address, executors=settings.executors)
    starting = asyncio.create_task(supervisor.start())
    stopping = asyncio.create_task(stop_event.wait())
    await asyncio.wait([starting, stopping], return_when=asyncio.FIRST_COMPLETED)
    exit_code = 0
    if starting.done() and starting.exception() is not None:
        log.error("cluster start failed", error=str(starting.exception()))
        exit_code = 1
        # Stay up briefly so `cbctl up` can read the failed state, unless told to stop.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), 10)
    else:
        await stop_event.wait()
    starting.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await starting
    await supervisor.stop()
    await set_serving(health, False)
    await server.stop(1.0)
    log.info("management stopped")
    return exit_code
