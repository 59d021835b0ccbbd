"""Scheduler settings, read once from the environment at start-up."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

from cloudburst_protocol import config
from cloudburst_protocol.errors import InvalidArgumentError


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    host: str
    port: int
    cache_address: str
    scheduler_id: str
    call_timeout_s: float
    executor_wait_s: float
    placement: str
    # Poison functions (CLOUDBURST_QUARANTINE_DEATHS / _WINDOW / _FOR).
    quarantine_deaths: int = config.DEFAULT_QUARANTINE_DEATHS
    quarantine_window_s: float = config.DEFAULT_QUARANTINE_WINDOW_S
    quarantine_for_s: float = config.DEFAULT_QUARANTINE_FOR_S

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def __post_init__(self) -> None:
        if self.quarantine_deaths < 1:
            raise InvalidArgumentError(
                f"{config.QUARANTINE_DEATHS_ENV} must be 1 or more, got {self.quarantine_deaths}"
            )
        for name, value in (
            (config.QUARANTINE_WINDOW_ENV, self.quarantine_window_s),
            (config.QUARANTINE_FOR_ENV, self.quarantine_for_s),
        ):
            if value <= 0:
                raise InvalidArgumentError(f"{name} must be a positive number of seconds")

    @classmethod
    def from_env(cls) -> SchedulerSettings:
        return cls(
            host=config.host(),
            port=config.env_int(config.SCHEDULER_PORT_ENV, config.DEFAULT_SCHEDULER_PORT),
            cache_address=config.cache_address(),
            scheduler_id=os.environ.get("CLOUDBURST_SCHEDULER_ID")
            or f"sched-{uuid.uuid4().hex[:8]}",
            call_timeout_s=config.env_float(config.CALL_TIMEOUT_ENV, config.DEFAULT_CALL_TIMEOUT_S),
            executor_wait_s=config.env_float(
                config.EXECUTOR_WAIT_ENV, config.DEFAULT_EXECUTOR_WAIT_S
            ),
            placement=config.env_str(config.PLACEMENT_ENV, "colocate"),
            quarantine_deaths=config.env_int(
                config.QUARANTINE_DEATHS_ENV, config.DEFAULT_QUARANTINE_DEATHS
            ),
            quarantine_window_s=config.env_float(
                config.QUARANTINE_WINDOW_ENV, config.DEFAULT_QUARANTINE_WINDOW_S
            ),
            quarantine_for_s=config.env_float(
                config.QUARANTINE_FOR_ENV, config.DEFAULT_QUARANTINE_FOR_S
            ),
        )
