"""Plumbing every service process shares: logging set-up and the server lifecycle."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable

import grpc
import grpc.aio
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from cloudburst_protocol import config
from cloudburst_protocol.grpc_errors import ErrorInterceptor


def configure_logging(service: str) -> None:
    """structlog for a service process: JSON lines by default (files, containers), readable
    console output when ``CLOUDBURST_LOG_FORMAT=console``. Called from ``main`` only."""
    level_name = config.env_str(config.LOG_LEVEL_ENV, "INFO").upper()
    level = logging.getLevelNamesMapping().get(level_name, logging.INFO)
    fmt = config.env_str(config.LOG_FORMAT_ENV, "json")
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
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


def new_server() -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    """An aio server with the error interceptor and the standard health service."""
    server = grpc.aio.server(interceptors=[ErrorInterceptor()], options=config.SERVER_OPTIONS)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    return server, health_servicer


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


__all__ = ["configure_logging", "new_server", "run_until_stopped", "set_serving"]
