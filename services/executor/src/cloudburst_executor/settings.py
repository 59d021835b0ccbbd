"""Executor settings, read once from the environment at start-up."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from cloudburst_protocol import config
from cloudburst_protocol.errors import InvalidArgumentError


@dataclass(frozen=True, slots=True)
class ExecutorSettings:
    host: str
    advertise_host: str
    port: int
    scheduler_addresses: tuple[str, ...]
    cache_address: str
    node_id: str
    executor_id: str
    result_ttl_s: float = config.DEFAULT_RESULT_TTL_S
    # Where to record the call being run, for the supervisor (CLOUDBURST_RUNNING_FILE).
    running_file: Path | None = None
    # User code past its deadline this long: the process is replaced (CLOUDBURST_RUNAWAY_GRACE).
    runaway_grace_s: float = config.DEFAULT_RUNAWAY_GRACE_S

    @property
    def bind_address(self) -> str:
        return f"{self.host}:{self.port}"

    def __post_init__(self) -> None:
        if self.runaway_grace_s < 0:
            raise InvalidArgumentError(
                f"{config.RUNAWAY_GRACE_ENV} must be 0 or more seconds, "
                f"got {self.runaway_grace_s:g}"
            )

    @classmethod
    def from_env(cls) -> ExecutorSettings:
        schedulers = tuple(a.strip() for a in config.scheduler_address().split(",") if a.strip())
        return cls(
            host=config.host(),
            advertise_host=config.advertise_host(),
            port=config.env_int(config.EXECUTOR_PORT_ENV, 0),
            scheduler_addresses=schedulers,
            cache_address=config.cache_address(),
            node_id=config.env_str(config.NODE_ID_ENV, "node0"),
            executor_id=os.environ.get(config.EXECUTOR_ID_ENV) or f"exec-{uuid.uuid4().hex[:8]}",
            result_ttl_s=config.result_ttl_s(),
            running_file=Path(running)
            if (running := config.env_str(config.RUNNING_FILE_ENV, ""))
            else None,
            runaway_grace_s=config.env_float(
                config.RUNAWAY_GRACE_ENV, config.DEFAULT_RUNAWAY_GRACE_S
            ),
        )
