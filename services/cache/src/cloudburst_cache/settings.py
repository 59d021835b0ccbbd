"""Cache settings, read once from the environment at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from cloudburst_protocol import config


@dataclass(frozen=True, slots=True)
class CacheSettings:
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_env(cls) -> CacheSettings:
        return cls(
            host=config.host(),
            port=config.env_int(config.CACHE_PORT_ENV, config.DEFAULT_CACHE_PORT),
        )
