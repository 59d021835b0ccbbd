"""The management service in observer mode (``CLOUDBURST_MANAGEMENT_MODE=observe``): it starts
nothing. Each ``Management.Status`` checks, at once and each within a short deadline, the
gRPC health of the scheduler and of the watched addresses, and asks the scheduler for its
executors and nodes; :func:`cloudburst_management.observed.report` turns that into the
answer. ``Shutdown`` is refused: whatever runs the services (docker compose) stops them."""

from __future__ import annotations

import asyncio
import os

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
    scheduler_pb2_grpc,
)
from cloudburst_protocol.runtime import listen, new_server, run_until_stopped, set_serving
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cloudburst_management.local import ClusterInfo, ServiceInfo
from cloudburst_management.observed import ExecutorSeen, Health, SchedulerSeen, report
from cloudburst_management.settings import ManagementSettings, ObserveSettings

log = structlog.get_logger("cloudburst.management")

# A restarted service is seen again within about a second, not after gRPC's default backoff
# (up to two minutes).
PROBE_CHANNEL_OPTIONS: list[tuple[str, int]] = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


class Observer:
    """Looks at the cluster through one long-lived channel per address."""

    def __init__(self, settings: ManagementSettings, observe: ObserveSettings) -> None:
        self.observe = observe
        self.management = ServiceInfo(
            "management",
            "management",
            f"{config.advertise_host()}:{settings.port}",
            os.getpid(),
            Health.SERVING.value,
            0,
            "",
        )
        self._channels: dict[str, grpc.aio.Channel] = {}

    def _channel(self, address: str) -> grpc.aio.Channel:
        channel = self._channels.get(address)
        if channel is None:
            channel = aio_channel(address, service_credentials(), options=PROBE_CHANNEL_OPTIONS)
            self._channels[address] = channel
        return channel

    async def health(self, address: str) -> Health:
        try:
            reply = await health_pb2_grpc.HealthStub(self._channel(address)).Check(
                health_pb2.HealthCheckRequest(),
                timeout=self.observe.probe_timeout_s,
                wait_for_ready=True,
            )
        except grpc.RpcError:
            return Health.UNREACHABLE
        if reply.status == health_pb2.HealthCheckResponse.SERVING:
            return Health.SERVING
        return Health.NOT_SERVING

    async def scheduler(self) -> SchedulerSeen | None:
        stub = scheduler_pb2_grpc.SchedulerStub(self._channel(self.observe.scheduler_address))
        try:
            status = await stub.Status(
                common_pb2.Empty(), timeout=self.observe.probe_timeout_s, wait_for_ready=True
            )
        except grpc.RpcError:
            return None
        return SchedulerSeen(
            executors=tuple(
                ExecutorSeen(e.executor_id, e.address, e.node_id, e.pid) for e in status.executors
            ),
            nodes=tuple(n.node_id for n in status.nodes),
        )

    async def look(self) -> ClusterInfo:
        addresses = [self.observe.scheduler_address] + [
            w.address for w in self.observe.watch if w.address != self.observe.scheduler_address
        ]
        healths, seen = await asyncio.gather(
            asyncio.gather(*(self.health(a) for a in addresses)), self.scheduler()
        )
        health = dict(zip(addresses, healths, strict=True))
        return report(
            self.management, self.observe.scheduler_address, self.observe.watch, health, seen
        )

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()


def to_proto(info: ClusterInfo) -> management_pb2.ClusterStatus:
    return management_pb2.ClusterStatus(
        ready=info.ready,
        scheduler_address=info.scheduler_address,
        services=[
            management_pb2.ServiceStatus(
                name=s.name,
                kind=s.kind,
                address=s.address,
                pid=s.pid,
                state=s.state,
                restarts=s.restarts,
                log_path=s.log_path,
                next_restart_at=s.next_restart_at,
                last_exit=s.last_exit,
            )
            for s in info.services
        ],
    )


class ObserverServicer(management_pb2_grpc.ManagementServicer):
    def __init__(self, observer: Observer) -> None:
        self.observer = observer

    async def Status(
        self, request: common_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> management_pb2.ClusterStatus:
        return to_proto(await self.observer.look())

    async def Shutdown(
        self, request: common_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> common_pb2.Empty:
        await context.abort(
            grpc.StatusCode.FAILED_PRECONDITION,
            "management observes this cluster and did not start it: stop it with what started "
            "it (make compose-down, docker compose down)",
        )
        raise AssertionError("abort returns by raising")  # pragma: no cover


async def serve_observer(settings: ManagementSettings) -> int:
    """Serves ``Management`` in observer mode until SIGTERM/SIGINT."""
    if settings.observe is None:
        raise ValueError("serve_observer needs observer settings (CLOUDBURST_MANAGEMENT_MODE)")
    observer = Observer(settings, settings.observe)
    server, health = new_server("the management")
    management_pb2_grpc.add_ManagementServicer_to_server(ObserverServicer(observer), server)
    if listen(server, settings.address) == 0:
        raise OSError(f"management cannot listen on {settings.address}")
    await server.start()
    await set_serving(health, True)
    log.info(
        "management observing",
        address=settings.address,
        scheduler=settings.observe.scheduler_address,
        watch=[w.address for w in settings.observe.watch],
    )

    async def stop() -> None:
        await set_serving(health, False)
        await server.stop(1.0)
        await observer.close()
        log.info("management stopped")

    await run_until_stopped(asyncio.Event(), stop)
    return 0


__all__ = ["Observer", "ObserverServicer", "serve_observer", "to_proto"]
