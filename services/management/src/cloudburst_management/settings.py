"""Management settings, read once from the environment at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cloudburst_protocol import config
from cloudburst_protocol.errors import InvalidArgumentError

EXECUTORS_ENV = "CLOUDBURST_EXECUTORS"
NODES_ENV = "CLOUDBURST_NODES"
# local (default): start and supervise the cluster's processes. observe: start nothing, report
# the cluster that another tool (docker compose) runs.
MODE_ENV = "CLOUDBURST_MANAGEMENT_MODE"
MODES = ("local", "observe")
# Observer mode: the services to health-check, comma-separated [kind=]host:port.
WATCH_ENV = "CLOUDBURST_MANAGEMENT_WATCH"
PROBE_TIMEOUT_S = 1.0


def default_executors() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class Watched:
    """A service the observer checks: ``kind`` (scheduler, storage, cache, executor, ...),
    ``name`` (the address's host) and ``address`` (``host:port``)."""

    kind: str
    name: str
    address: str


def parse_watch(raw: str) -> tuple[Watched, ...]:
    """``CLOUDBURST_MANAGEMENT_WATCH``: comma-separated ``[kind=]host:port`` entries, e.g.
    ``storage=storage:7072,cache=node1-cache:7072,executor=node1-exec0:7080``. The kind
    defaults to ``service`` and the name is the host; a repeated address counts once."""
    watched: list[Watched] = []
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        kind, _, address = entry.rpartition("=")
        address = address.strip()
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise InvalidArgumentError(
                f"{WATCH_ENV}: {entry!r} is not [kind=]host:port (e.g. cache=node1-cache:7072)"
            )
        if all(w.address != address for w in watched):
            watched.append(Watched(kind.strip() or "service", host, address))
    return tuple(watched)


@dataclass(frozen=True, slots=True)
class ObserveSettings:
    """Observer mode: where the scheduler is (``CLOUDBURST_SCHEDULER_ADDRESS``), what else to
    health-check (``CLOUDBURST_MANAGEMENT_WATCH``), and how long one probe may take."""

    scheduler_address: str
    watch: tuple[Watched, ...]
    probe_timeout_s: float = PROBE_TIMEOUT_S

    @classmethod
    def from_env(cls) -> ObserveSettings:
        return cls(
            scheduler_address=config.scheduler_address(),
            watch=parse_watch(config.env_str(WATCH_ENV, "")),
        )


@dataclass(frozen=True, slots=True)
class ManagementSettings:
    host: str
    port: int
    scheduler_port: int
    cache_port: int
    executors: int
    nodes: int
    home: Path
    # Set in observer mode (CLOUDBURST_MANAGEMENT_MODE=observe); None in local mode.
    observe: ObserveSettings | None = None
    # Restarts back off from base to max seconds (CLOUDBURST_RESTART_BACKOFF_BASE / _MAX).
    restart_base_s: float = config.DEFAULT_RESTART_BACKOFF_BASE_S
    restart_max_s: float = config.DEFAULT_RESTART_BACKOFF_MAX_S

    @property
    def mode(self) -> str:
        return "local" if self.observe is None else "observe"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def scheduler_address(self) -> str:
        return f"{self.host}:{self.scheduler_port}"

    @property
    def cache_address(self) -> str:
        return f"{self.host}:{self.cache_port}"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @classmethod
    def from_env(cls) -> ManagementSettings:
        mode = config.env_str(MODE_ENV, "local")
        if mode not in MODES:
            raise InvalidArgumentError(f"{MODE_ENV} must be one of {MODES}, got {mode!r}")
        restart_base_s = config.env_float(
            config.RESTART_BACKOFF_BASE_ENV, config.DEFAULT_RESTART_BACKOFF_BASE_S
        )
        restart_max_s = config.env_float(
            config.RESTART_BACKOFF_MAX_ENV, config.DEFAULT_RESTART_BACKOFF_MAX_S
        )
        if not 0 < restart_base_s <= restart_max_s:
            raise InvalidArgumentError(
                f"{config.RESTART_BACKOFF_BASE_ENV} ({restart_base_s:g} s) must be positive and "
                f"at most {config.RESTART_BACKOFF_MAX_ENV} ({restart_max_s:g} s)"
            )
        return cls(
            host=config.host(),
            port=config.env_int(config.MANAGEMENT_PORT_ENV, config.DEFAULT_MANAGEMENT_PORT),
            scheduler_port=config.env_int(config.SCHEDULER_PORT_ENV, config.DEFAULT_SCHEDULER_PORT),
            cache_port=config.env_int(config.CACHE_PORT_ENV, config.DEFAULT_CACHE_PORT),
            executors=config.env_int(EXECUTORS_ENV, default_executors()),
            nodes=config.env_int(NODES_ENV, 1),
            home=config.home(),
            observe=ObserveSettings.from_env() if mode == "observe" else None,
            restart_base_s=restart_base_s,
            restart_max_s=restart_max_s,
        )
