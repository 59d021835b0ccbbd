"""Plumbing every service process shares: logging set-up and the server lifecycle."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import grpc
import grpc.aio
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry import trace

from cloudburst_protocol import config
from cloudburst_protocol.auth import AuthPolicy
from cloudburst_protocol.channels import TlsFiles
from cloudburst_protocol.interceptor import ServiceInterceptor
from cloudburst_protocol.tracing import configure_tracing, shutdown_tracing


def add_trace_ids(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Adds the current span's trace_id and span_id to a log line (the call id comes from
    the context variables bound while serving a call)."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", f"{ctx.trace_id:032x}")
        event_dict.setdefault("span_id", f"{ctx.span_id:016x}")
    return event_dict


def configure_service(service: str, instance: str = "") -> None:
    """Logging and tracing for a service process; called from its ``main``, never at import."""
    configure_logging(service)
    configure_tracing(service, instance)


def configure_logging(service: str) -> None:
    """structlog for a service process: readable console output in a terminal, JSON lines
    otherwise (log files, containers); ``CLOUDBURST_LOG_FORMAT=json|console`` forces one.
    Called from ``main`` only."""
    level_name = config.env_str(config.LOG_LEVEL_ENV, "INFO").upper()
    level = logging.getLevelNamesMapping().get(level_name, logging.INFO)
    fmt = config.env_str(config.LOG_FORMAT_ENV, "auto")
    console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if console
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_trace_ids,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def process_exists(pid: int) -> bool:
    """Whether a process with this id exists (one of another user's counts; a zombie too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def new_server(
    service: str = "", policy: AuthPolicy | None = None
) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    """An aio server with the service interceptor (credentials, malformed requests, typed
    errors) and the standard health service. ``policy`` defaults to the process's
    environment (:meth:`AuthPolicy.from_env`)."""
    policy = policy if policy is not None else AuthPolicy.from_env()
    if not policy.enabled:
        structlog.get_logger().warning(
            "authentication is OFF: anyone who reaches this port controls the cluster",
            setting=config.AUTH_ENV,
        )
    server = grpc.aio.server(
        interceptors=[ServiceInterceptor(policy, service)], options=config.server_options()
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    return server, health_servicer


def listen(server: grpc.aio.Server, address: str, tls: TlsFiles | None = None) -> int:
    """Binds ``address`` (TLS when ``CLOUDBURST_TLS_CERT``/``_KEY`` are set, except on unix
    sockets); returns the port, 0 if it could not bind."""
    files = tls if tls is not None else TlsFiles.from_env()
    if files.server_enabled and not address.startswith("unix:"):
        return int(server.add_secure_port(address, files.server_credentials()))
    return int(server.add_insecure_port(address))


async def set_serving(health_servicer: health.aio.HealthServicer, serving: bool) -> None:
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    await health_servicer.set("", status)


async def run_until_stopped(
    stop_event: asyncio.Event,
    on_stop: Callable[[], Awaitable[None]],
) -> None:
    """Waits for SIGTERM/SIGINT (or ``stop_event``), then runs ``on_stop``."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_event.set)
    await stop_event.wait()
    await on_stop()
    shutdown_tracing()


__all__ = [
    "add_trace_ids",
    "configure_logging",
    "configure_service",
    "listen",
    "new_server",
    "run_until_stopped",
    "set_serving",
]
