"""Management settings, read once from the environment at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cloudburst_protocol import config

EXECUTORS_ENV = "CLOUDBURST_EXECUTORS"
NODES_ENV = "CLOUDBURST_NODES"


def default_executors() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class ManagementSettings:
    host: str
    port: int
    scheduler_port: int
    cache_port: int
    executors: int
    nodes: int
    home: Path

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
        return cls(
            host=config.host(),
            port=config.env_int(config.MANAGEMENT_PORT_ENV, config.DEFAULT_MANAGEMENT_PORT),
            scheduler_port=config.env_int(config.SCHEDULER_PORT_ENV, config.DEFAULT_SCHEDULER_PORT),
            cache_port=config.env_int(config.CACHE_PORT_ENV, config.DEFAULT_CACHE_PORT),
            executors=config.env_int(EXECUTORS_ENV, default_executors()),
            nodes=config.env_int(NODES_ENV, 1),
            home=config.home(),
        )
