"""Cache settings, read once from the environment at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cloudburst_protocol import config

from cloudburst_cache.backends import parse_storage_url

ROLE_ENV = "CLOUDBURST_CACHE_ROLE"
SOCKET_ENV = "CLOUDBURST_CACHE_SOCKET"
MAX_BYTES_ENV = "CLOUDBURST_CACHE_MAX_BYTES"
STORAGE_URL_ENV = "CLOUDBURST_STORAGE_URL"
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
ROLES = ("authority", "node")


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """``authority``: the storage authority, over the storage ``storage_url`` names (empty or
    ``memory://``: the embedded store; ``redis://host:port/db``: one Redis server;
    ``redis+cluster://host:port``: a Redis Cluster; see docs/storage.md). ``node``: a node's
    cache in front of the authority at ``authority_address``, serving its executors on a
    unix socket (``socket_path``) and, if ``port`` is set, on TCP."""

    role: str
    host: str
    port: int
    socket_path: str
    authority_address: str
    scheduler_address: str
    node_id: str
    max_bytes: int
    storage_url: str = ""
    # The embedded store: its directory and CLOUDBURST_FSYNC. Built by hand (tests), the
    # settings keep it in memory; from the environment, the default is "always".
    data_dir: str = ""
    fsync: str = "off"
    history_s: float = config.DEFAULT_HISTORY_S  # snapshot history, CLOUDBURST_HISTORY_S

    @property
    def data_path(self) -> Path | None:
        return Path(self.data_dir) if self.data_dir else None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def listen(self) -> list[str]:
        addresses = []
        if self.socket_path:
            addresses.append(f"unix:{self.socket_path}")
        if self.port or self.role == "authority" or not self.socket_path:
            addresses.append(self.address)
        return addresses

    @classmethod
    def from_env(cls) -> CacheSettings:
        role = config.env_str(ROLE_ENV, "authority")
        if role not in ROLES:
            raise ValueError(f"{ROLE_ENV} must be one of {ROLES}, got {role!r}")
        default_port = config.DEFAULT_CACHE_PORT if role == "authority" else 0
        storage_url = config.env_str(STORAGE_URL_ENV, "")
        parse_storage_url(storage_url)  # a wrong URL stops the start here, with its reason
        return cls(
            role=role,
            host=config.host(),
            port=config.env_int(config.CACHE_PORT_ENV, default_port),
            socket_path=config.env_str(SOCKET_ENV, ""),
            authority_address=config.env_str(config.STORAGE_ADDRESS_ENV, ""),
            scheduler_address=config.scheduler_address(),
            node_id=config.env_str(config.NODE_ID_ENV, "node0"),
            max_bytes=config.env_int(MAX_BYTES_ENV, DEFAULT_MAX_BYTES),
            storage_url=storage_url,
            data_dir=str(config.data_dir()),
            fsync=config.fsync_mode(),
            history_s=config.history_s(),
        )
