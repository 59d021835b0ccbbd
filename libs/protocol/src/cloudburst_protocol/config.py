"""Names and defaults of the settings every service reads from its environment.

Each service reads its own settings once at start-up into a frozen dataclass (see its
``settings`` module); this module is the single place where variable names and default
ports are written down.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from cloudburst_protocol.errors import InvalidArgumentError

HOST_ENV = "CLOUDBURST_HOST"
# The host name other services use to reach this one (when it binds 0.0.0.0 in a container).
ADVERTISE_HOST_ENV = "CLOUDBURST_ADVERTISE_HOST"
SCHEDULER_PORT_ENV = "CLOUDBURST_SCHEDULER_PORT"
SCHEDULER_ADDRESS_ENV = "CLOUDBURST_SCHEDULER_ADDRESS"
MANAGEMENT_PORT_ENV = "CLOUDBURST_MANAGEMENT_PORT"
MANAGEMENT_ADDRESS_ENV = "CLOUDBURST_MANAGEMENT_ADDRESS"
CACHE_PORT_ENV = "CLOUDBURST_CACHE_PORT"
CACHE_ADDRESS_ENV = "CLOUDBURST_CACHE_ADDRESS"
# Where a node cache finds the storage authority.
STORAGE_ADDRESS_ENV = "CLOUDBURST_STORAGE_ADDRESS"
EXECUTOR_PORT_ENV = "CLOUDBURST_EXECUTOR_PORT"
NODE_ID_ENV = "CLOUDBURST_NODE_ID"
# A process's name within the cluster (e.g. executor-0): names its log and trace files.
INSTANCE_ENV = "CLOUDBURST_INSTANCE"
EXECUTOR_ID_ENV = "CLOUDBURST_EXECUTOR_ID"
HOME_ENV = "CLOUDBURST_HOME"
LOG_FORMAT_ENV = "CLOUDBURST_LOG_FORMAT"
LOG_LEVEL_ENV = "CLOUDBURST_LOG_LEVEL"
CALL_TIMEOUT_ENV = "CLOUDBURST_CALL_TIMEOUT"
EXECUTOR_WAIT_ENV = "CLOUDBURST_EXECUTOR_WAIT"
PLACEMENT_ENV = "CLOUDBURST_PLACEMENT"
RESULT_TTL_ENV = "CLOUDBURST_RESULT_TTL"
DEFAULT_RESULT_TTL_S = 3600.0
"""How long a call's result stays readable by its id (0 keeps results forever)."""
# The embedded store's files (default $CLOUDBURST_HOME/data) and how it syncs them.
DATA_DIR_ENV = "CLOUDBURST_DATA_DIR"
FSYNC_ENV = "CLOUDBURST_FSYNC"
FSYNC_MODES = ("always", "everysec", "off")
DEFAULT_FSYNC = "always"
HISTORY_S_ENV = "CLOUDBURST_HISTORY_S"
DEFAULT_HISTORY_S = 60.0
"""How long the storage keeps a replaced version for snapshot reads (seconds)."""
EXIT_CONFIG = 78
"""Exit code of a service that cannot start and that restarting would not help (its data
directory is another version's, or in use): its supervisor marks it failed at once."""
# Supervision (local mode): a process that exits is restarted after a delay that doubles
# from BASE to MAX seconds while it keeps failing; it is never given up on.
RESTART_BACKOFF_BASE_ENV = "CLOUDBURST_RESTART_BACKOFF_BASE"
RESTART_BACKOFF_MAX_ENV = "CLOUDBURST_RESTART_BACKOFF_MAX"
DEFAULT_RESTART_BACKOFF_BASE_S = 0.1
DEFAULT_RESTART_BACKOFF_MAX_S = 30.0
# Poison functions: CLOUDBURST_QUARANTINE_DEATHS executor deaths while running one function
# within CLOUDBURST_QUARANTINE_WINDOW seconds quarantine it for CLOUDBURST_QUARANTINE_FOR
# seconds (doubling, up to an hour, for each repeat).
QUARANTINE_DEATHS_ENV = "CLOUDBURST_QUARANTINE_DEATHS"
QUARANTINE_WINDOW_ENV = "CLOUDBURST_QUARANTINE_WINDOW"
QUARANTINE_FOR_ENV = "CLOUDBURST_QUARANTINE_FOR"
DEFAULT_QUARANTINE_DEATHS = 3
DEFAULT_QUARANTINE_WINDOW_S = 60.0
DEFAULT_QUARANTINE_FOR_S = 60.0
# How long user code may run past its call's deadline (or cancellation) before its executor
# process is replaced; meanwhile the executor takes no calls.
RUNAWAY_GRACE_ENV = "CLOUDBURST_RUNAWAY_GRACE"
DEFAULT_RUNAWAY_GRACE_S = 5.0
# Where an executor records the call it is running (its supervisor reads it when it dies).
RUNNING_FILE_ENV = "CLOUDBURST_RUNNING_FILE"
BULK_DIR_ENV = "CLOUDBURST_BULK_DIR"  # large values on one host: see cloudburst_protocol.bulk

# Security (see cloudburst_protocol.auth and docs/security.md).
AUTH_ENV = "CLOUDBURST_AUTH"  # token (default) or off
TOKEN_ENV = "CLOUDBURST_TOKEN"  # the token a client presents
CLUSTER_SECRET_ENV = "CLOUDBURST_CLUSTER_SECRET"  # services' credential among themselves
ADMIN_TOKEN_ENV = "CLOUDBURST_ADMIN_TOKEN"  # accepted by services: the admin role
CLIENT_TOKENS_ENV = "CLOUDBURST_CLIENT_TOKENS"  # accepted by services: the client role
TLS_CERT_ENV = "CLOUDBURST_TLS_CERT"
TLS_KEY_ENV = "CLOUDBURST_TLS_KEY"
TLS_CA_ENV = "CLOUDBURST_TLS_CA"
MAX_MESSAGE_ENV = "CLOUDBURST_MAX_MESSAGE_BYTES"
DEFAULT_MAX_MESSAGE_BYTES = 512 * 1024 * 1024

SERVICE_ENV_DEFAULTS = {
    # glibc hands blocks of 128 KiB and more straight from mmap and back on free, so every
    # copy of a large value page-faults fresh memory: an 8 MB copy cost 3.9 ms instead of
    # 0.6 ms. Services keep blocks up to 32 MiB in their heap for reuse, and give free heap
    # back to the system past 128 MiB. Set either variable to override.
    "MALLOC_MMAP_THRESHOLD_": str(32 * 1024 * 1024),
    "MALLOC_TRIM_THRESHOLD_": str(128 * 1024 * 1024),
}

DEFAULT_HOST = "127.0.0.1"
DEFAULT_SCHEDULER_PORT = 7070
DEFAULT_MANAGEMENT_PORT = 7071
DEFAULT_CACHE_PORT = 7072
DEFAULT_CALL_TIMEOUT_S = 300.0
DEFAULT_EXECUTOR_WAIT_S = 10.0

# Long-lived channels: keep them open and notice dead peers without traffic.
CHANNEL_OPTIONS: list[tuple[str, int]] = [
    # Reconnect quickly after a peer restarts (gRPC's default backoff grows to minutes).
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2_000),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_send_message_length", 512 * 1024 * 1024),
    ("grpc.max_receive_message_length", 512 * 1024 * 1024),
]
SERVER_OPTIONS: list[tuple[str, int]] = [
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.max_send_message_length", 512 * 1024 * 1024),
    ("grpc.max_receive_message_length", 512 * 1024 * 1024),
]


def max_message_bytes() -> int:
    """``CLOUDBURST_MAX_MESSAGE_BYTES``: the largest gRPC message a process sends or takes."""
    limit = env_int(MAX_MESSAGE_ENV, DEFAULT_MAX_MESSAGE_BYTES)
    if limit < 1024 * 1024:
        raise InvalidArgumentError(f"{MAX_MESSAGE_ENV} must be at least 1 MiB, got {limit}")
    return limit


def _with_limit(options: list[tuple[str, int]]) -> list[tuple[str, int]]:
    limit = max_message_bytes()
    sized = ("grpc.max_send_message_length", "grpc.max_receive_message_length")
    return [(k, limit if k in sized else v) for k, v in options]


def server_options() -> list[tuple[str, int]]:
    """A server's options, with the message size limit of this process's settings."""
    return _with_limit(SERVER_OPTIONS)


def channel_options() -> list[tuple[str, int]]:
    """A long-lived channel's options, with this process's message size limit."""
    return _with_limit(CHANNEL_OPTIONS)


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidArgumentError(f"{name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise InvalidArgumentError(f"{name} must be a number, got {raw!r}") from None


def result_ttl_s() -> float:
    """``CLOUDBURST_RESULT_TTL`` in seconds (0: call results are kept forever)."""
    ttl = env_float(RESULT_TTL_ENV, DEFAULT_RESULT_TTL_S)
    if ttl < 0:
        raise InvalidArgumentError(f"{RESULT_TTL_ENV} must be 0 or more seconds, got {ttl:g}")
    return ttl


def host() -> str:
    return env_str(HOST_ENV, DEFAULT_HOST)


def advertise_host() -> str:
    """How peers reach this process: ``CLOUDBURST_ADVERTISE_HOST``, else the bind host, else
    (when binding every interface) the machine's host name."""
    bind = host()
    if bind in ("0.0.0.0", "::", "[::]"):
        return env_str(ADVERTISE_HOST_ENV, socket.gethostname())
    return env_str(ADVERTISE_HOST_ENV, bind)


def scheduler_address() -> str:
    port = env_int(SCHEDULER_PORT_ENV, DEFAULT_SCHEDULER_PORT)
    return env_str(SCHEDULER_ADDRESS_ENV, f"{host()}:{port}")


def management_address() -> str:
    port = env_int(MANAGEMENT_PORT_ENV, DEFAULT_MANAGEMENT_PORT)
    return env_str(MANAGEMENT_ADDRESS_ENV, f"{host()}:{port}")


def cache_address() -> str:
    port = env_int(CACHE_PORT_ENV, DEFAULT_CACHE_PORT)
    return env_str(CACHE_ADDRESS_ENV, f"{host()}:{port}")


def home() -> Path:
    """Where the local cluster keeps its state file and logs."""
    raw = os.environ.get(HOME_ENV, "").strip()
    return Path(raw).expanduser() if raw else Path.home() / ".cloudburst"


def history_s() -> float:
    """``CLOUDBURST_HISTORY_S``: seconds a replaced version stays readable by snapshots."""
    value = env_float(HISTORY_S_ENV, DEFAULT_HISTORY_S)
    if value <= 0:
        raise InvalidArgumentError(f"{HISTORY_S_ENV} must be more than 0 seconds, got {value:g}")
    return value


def data_dir() -> Path:
    """Where the embedded store keeps its files: ``CLOUDBURST_DATA_DIR``, else
    ``$CLOUDBURST_HOME/data``."""
    raw = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(raw).expanduser() if raw else home() / "data"


def fsync_mode() -> str:
    """``CLOUDBURST_FSYNC``: ``always`` (default), ``everysec`` or ``off`` (memory only)."""
    mode = env_str(FSYNC_ENV, DEFAULT_FSYNC).lower()
    if mode not in FSYNC_MODES:
        raise InvalidArgumentError(
            f"{FSYNC_ENV} must be one of {', '.join(FSYNC_MODES)}, got {mode!r}"
        )
    return mode


__all__ = [name for name in dir() if name.isupper()] + [
    "advertise_host",
    "cache_address",
    "channel_options",
    "data_dir",
    "fsync_mode",
    "history_s",
    "env_float",
    "env_int",
    "env_str",
    "home",
    "host",
    "management_address",
    "max_message_bytes",
    "scheduler_address",
    "server_options",
]

# Autoscaling (see cloudburst_management.autoscale and docs/autoscaling.md): the pool of
# executors stays between MIN and MAX, sized for TARGET concurrent calls per executor, from
# load averaged over the STABLE window (and the PANIC window under a burst); it shrinks only
# after load stayed below the pool for the scale-down DELAY (all windows in seconds).
MIN_EXECUTORS_ENV = "CLOUDBURST_MIN_EXECUTORS"
MAX_EXECUTORS_ENV = "CLOUDBURST_MAX_EXECUTORS"
TARGET_CONCURRENCY_ENV = "CLOUDBURST_TARGET_CONCURRENCY"
SCALE_STABLE_WINDOW_ENV = "CLOUDBURST_SCALE_STABLE_WINDOW"
SCALE_PANIC_WINDOW_ENV = "CLOUDBURST_SCALE_PANIC_WINDOW"
SCALE_PANIC_THRESHOLD_ENV = "CLOUDBURST_SCALE_PANIC_THRESHOLD"
SCALE_DOWN_DELAY_ENV = "CLOUDBURST_SCALE_DOWN_DELAY"
SCALE_UP_RATE_ENV = "CLOUDBURST_SCALE_UP_RATE"
DRAIN_BOUND_ENV = "CLOUDBURST_DRAIN_BOUND"
DEFAULT_MIN_EXECUTORS = 1
DEFAULT_MAX_EXECUTORS = 16
DEFAULT_TARGET_CONCURRENCY = 1.0
DEFAULT_SCALE_STABLE_WINDOW_S = 60.0
DEFAULT_SCALE_PANIC_WINDOW_S = 6.0
DEFAULT_SCALE_PANIC_THRESHOLD = 2.0
DEFAULT_SCALE_DOWN_DELAY_S = 30.0
DEFAULT_SCALE_UP_RATE = 4.0
DEFAULT_DRAIN_BOUND_S = 10.0
__all__ += [  # the names above are defined after the list was built
    "DEFAULT_DRAIN_BOUND_S",
    "DEFAULT_MAX_EXECUTORS",
    "DEFAULT_MIN_EXECUTORS",
    "DEFAULT_SCALE_DOWN_DELAY_S",
    "DEFAULT_SCALE_PANIC_THRESHOLD",
    "DEFAULT_SCALE_PANIC_WINDOW_S",
    "DEFAULT_SCALE_STABLE_WINDOW_S",
    "DEFAULT_SCALE_UP_RATE",
    "DEFAULT_TARGET_CONCURRENCY",
    "DRAIN_BOUND_ENV",
    "MAX_EXECUTORS_ENV",
    "MIN_EXECUTORS_ENV",
    "SCALE_DOWN_DELAY_ENV",
    "SCALE_PANIC_THRESHOLD_ENV",
    "SCALE_PANIC_WINDOW_ENV",
    "SCALE_STABLE_WINDOW_ENV",
    "SCALE_UP_RATE_ENV",
    "TARGET_CONCURRENCY_ENV",
]
