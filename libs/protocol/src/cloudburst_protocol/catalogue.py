"""Every setting Cloudburst reads from its environment, declared once.

Each :class:`Setting` says its name, what it holds, its default, one line of help and which
processes read it. ``docs/settings.md`` is generated from this list
(``python libs/protocol/scripts/gen_settings_doc.py``; ``--check`` in ``make test`` fails when
the page is stale), and a unit test fails when the code reads a ``CLOUDBURST_*`` variable that
is not declared here, or declares one nothing reads.
"""

from __future__ import annotations

from dataclasses import dataclass

SERVICES = ("scheduler", "executor", "cache", "management", "sdk", "cbctl")
ALL = "all services"


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    kind: str  # what the value is: "port", "seconds", "path", "bytes", "count", a choice...
    default: str
    help: str
    read_by: str = ALL
    group: str = "general"


def _s(
    name: str, kind: str, default: str, help: str, read_by: str = ALL, group: str = ""
) -> Setting:
    return Setting(f"CLOUDBURST_{name}", kind, default, help, read_by, group or "general")


NET, SEC, STORE, FAULT, SCALE, OBS, CLI = (
    "addresses",
    "security",
    "storage",
    "faults",
    "elasticity",
    "observability",
    "clients",
)

SETTINGS: tuple[Setting, ...] = (
    # -- addresses and layout
    _s(
        "HOST",
        "host",
        "127.0.0.1",
        "Interface services bind to (0.0.0.0 in containers).",
        group=NET,
    ),
    _s(
        "ADVERTISE_HOST",
        "host",
        "the bind host, or the host name when binding 0.0.0.0",
        "How peers reach this process.",
        group=NET,
    ),
    _s(
        "SCHEDULER_PORT",
        "port",
        "7070",
        "The scheduler's port; also where clients look.",
        group=NET,
    ),
    _s(
        "SCHEDULER_ADDRESS",
        "host:port",
        "$CLOUDBURST_HOST:$CLOUDBURST_SCHEDULER_PORT",
        "Where services find the scheduler.",
        group=NET,
    ),
    _s("MANAGEMENT_PORT", "port", "7071", "The management service's port.", group=NET),
    _s(
        "MANAGEMENT_ADDRESS",
        "host:port",
        "$CLOUDBURST_HOST:$CLOUDBURST_MANAGEMENT_PORT",
        "Where clients find the management service.",
        "management, cbctl",
        NET,
    ),
    _s(
        "CACHE_PORT",
        "port",
        "7072",
        "The storage authority's port (0 for a node cache on a unix socket).",
        group=NET,
    ),
    _s(
        "CACHE_ADDRESS",
        "host:port",
        "$CLOUDBURST_HOST:$CLOUDBURST_CACHE_PORT",
        "Where a scheduler or executor finds its cache.",
        "scheduler, executor",
        NET,
    ),
    _s(
        "STORAGE_ADDRESS",
        "host:port",
        "",
        "Where a node cache finds the storage authority.",
        "cache",
        NET,
    ),
    _s(
        "CACHE_SOCKET",
        "path",
        "",
        "A node cache's unix socket (set by the management).",
        "cache",
        NET,
    ),
    _s(
        "CACHE_ROLE",
        "authority | node",
        "authority",
        "Which of the cache service's two roles this process has.",
        "cache",
        NET,
    ),
    _s("EXECUTOR_PORT", "port", "0 (any free port)", "An executor's port.", "executor", NET),
    _s(
        "EXECUTOR_ID",
        "name",
        "exec-<random>",
        "An executor's id (set by the management).",
        "executor",
        NET,
    ),
    _s(
        "NODE_ID",
        "name",
        "node0",
        "The node a cache or executor belongs to.",
        "cache, executor",
        NET,
    ),
    _s("SCHEDULER_ID", "name", "a random id", "A scheduler's id.", "scheduler", NET),
    _s(
        "INSTANCE",
        "name",
        "the service name",
        "A process's name in the cluster (names its log and span files).",
        group=NET,
    ),
    _s(
        "HOME",
        "path",
        "~/.cloudburst",
        "State, logs, spans, data and tokens of a local cluster.",
        group=NET,
    ),
    _s(
        "EXECUTORS",
        "count",
        "one per core",
        "Executors per node of a local cluster.",
        "management",
        NET,
    ),
    _s("NODES", "count", "1", "Nodes of a local cluster.", "management", NET),
    _s(
        "MANAGEMENT_MODE",
        "local | observe",
        "local",
        "Start and supervise the cluster (local) or only report on one (containers).",
        "management",
        NET,
    ),
    _s(
        "MANAGEMENT_WATCH",
        "[kind=]host:port,...",
        "",
        "In observe mode: the services to report on.",
        "management",
        NET,
    ),
    _s(
        "PLACEMENT",
        "colocate | spread",
        "colocate",
        "Run a DAG call on one executor, or each function on the next.",
        "scheduler",
    ),
    _s("CALL_TIMEOUT", "seconds", "300", "Every call's deadline.", "scheduler, sdk"),
    _s(
        "EXECUTOR_WAIT",
        "seconds",
        "10",
        "How long a call waits for an executor to exist.",
        "scheduler",
    ),
    _s(
        "RESULT_TTL",
        "seconds",
        "3600",
        "How long a call's result stays readable by its id (0: forever).",
        "scheduler, executor, cache",
    ),
    _s(
        "BULK_DIR",
        "path | off",
        "/dev/shm",
        "Shared-memory directory for large values between processes of one host.",
    ),
    _s(
        "MAX_MESSAGE_BYTES",
        "bytes",
        "536870912 (512 MiB)",
        "The largest gRPC message a process sends or takes.",
    ),
    # -- security
    _s(
        "AUTH",
        "token | off",
        "token",
        "Check tokens on every RPC (off: trust every caller).",
        group=SEC,
    ),
    _s(
        "TOKEN",
        "token",
        "$CLOUDBURST_HOME/token",
        "The token a client presents.",
        "sdk, cbctl, management",
        SEC,
    ),
    _s(
        "CLUSTER_SECRET",
        "token",
        "$CLOUDBURST_HOME/cluster-secret",
        "The services' credential among themselves.",
        group=SEC,
    ),
    _s(
        "ADMIN_TOKEN",
        "token",
        "$CLOUDBURST_HOME/token",
        "The token services accept with the admin role.",
        group=SEC,
    ),
    _s("CLIENT_TOKENS", "token,...", "", "Tokens services accept with the client role.", group=SEC),
    _s(
        "TLS_CERT",
        "path",
        "",
        "This process's certificate (PEM): services listen with TLS, clients present it.",
        group=SEC,
    ),
    _s("TLS_KEY", "path", "", "The key of CLOUDBURST_TLS_CERT (PEM).", group=SEC),
    _s(
        "TLS_CA",
        "path",
        "",
        "The CA to trust; on a service, client certificates are then required (mutual TLS).",
        group=SEC,
    ),
    # -- storage
    _s(
        "STORAGE_URL",
        "memory:// | redis://... | redis+cluster://h:p,...",
        "memory://",
        "Where the storage authority keeps values.",
        "cache",
        STORE,
    ),
    _s("DATA_DIR", "path", "$CLOUDBURST_HOME/data", "The embedded store's files.", "cache", STORE),
    _s(
        "FSYNC",
        "always | everysec | off",
        "always",
        "When an acknowledged write is on disk (off: memory only).",
        "cache",
        STORE,
    ),
    _s(
        "HISTORY_S",
        "seconds",
        "60",
        "How long replaced versions stay for snapshot reads.",
        "cache",
        STORE,
    ),
    _s(
        "CACHE_MAX_BYTES",
        "bytes",
        "536870912 (512 MiB)",
        "A node cache's bound (least recently used evicted).",
        "cache",
        STORE,
    ),
    # -- faults
    _s(
        "RESTART_BACKOFF_BASE",
        "seconds",
        "0.1",
        "First delay before restarting a process that exited.",
        "management",
        FAULT,
    ),
    _s(
        "RESTART_BACKOFF_MAX",
        "seconds",
        "30",
        "Cap of the doubling restart delay.",
        "management",
        FAULT,
    ),
    _s(
        "QUARANTINE_DEATHS",
        "count",
        "3",
        "Executor deaths running one function that quarantine it.",
        "scheduler",
        FAULT,
    ),
    _s(
        "QUARANTINE_WINDOW",
        "seconds",
        "60",
        "Within how long those deaths count.",
        "scheduler",
        FAULT,
    ),
    _s(
        "QUARANTINE_FOR",
        "seconds",
        "60",
        "How long a quarantine lasts (doubling on repeats).",
        "scheduler",
        FAULT,
    ),
    _s(
        "RUNAWAY_GRACE",
        "seconds",
        "5",
        "How long user code may run past its deadline before its executor is replaced.",
        "executor",
        FAULT,
    ),
    _s(
        "RUNNING_FILE",
        "path",
        "",
        "Where an executor records its running call (set by the management).",
        "executor, management",
        FAULT,
    ),
    # -- elasticity (the policy in cloudburst_management.autoscale; not wired in yet)
    _s("MIN_EXECUTORS", "count", "1", "The pool's lower bound.", "management", SCALE),
    _s("MAX_EXECUTORS", "count", "16", "The pool's upper bound.", "management", SCALE),
    _s(
        "TARGET_CONCURRENCY",
        "calls",
        "1.0",
        "Calls in flight per executor the pool is sized for.",
        "management",
        SCALE,
    ),
    _s(
        "SCALE_STABLE_WINDOW",
        "seconds",
        "60",
        "The window whose average demand sizes the pool.",
        "management",
        SCALE,
    ),
    _s(
        "SCALE_PANIC_WINDOW",
        "seconds",
        "6",
        "The short window that detects bursts.",
        "management",
        SCALE,
    ),
    _s(
        "SCALE_PANIC_THRESHOLD",
        "ratio",
        "2.0",
        "Demand over the pool that starts panic mode (grow at once).",
        "management",
        SCALE,
    ),
    _s(
        "SCALE_DOWN_DELAY",
        "seconds",
        "30",
        "How long demand must stay low before the pool shrinks.",
        "management",
        SCALE,
    ),
    _s(
        "SCALE_UP_RATE",
        "ratio",
        "4.0",
        "The most the pool grows in one decision.",
        "management",
        SCALE,
    ),
    _s(
        "DRAIN_BOUND",
        "seconds",
        "10",
        "An executor whose oldest call is older is never removed.",
        "management",
        SCALE,
    ),
    # -- observability
    _s("TRACING", "on | off", "on", "Record spans (off: the no-op API).", group=OBS),
    _s(
        "TRACE_DIR",
        "path",
        "$CLOUDBURST_HOME/traces",
        "Where spans are written for cbctl trace.",
        group=OBS,
    ),
    _s(
        "LOG_FORMAT",
        "auto | json | console",
        "auto",
        "Log lines for a terminal or as JSON.",
        group=OBS,
    ),
    _s("LOG_LEVEL", "level", "INFO", "The lowest level logged.", group=OBS),
    # -- clients
    _s(
        "ADDRESS", "host[:port]", "the local cluster", "The scheduler cbctl talks to.", "cbctl", CLI
    ),
    _s(
        "CONNECT_TIMEOUT",
        "seconds",
        "5",
        "How long cbctl waits to reach a scheduler.",
        "cbctl",
        CLI,
    ),
)

BY_NAME = {setting.name: setting for setting in SETTINGS}


def render_markdown() -> str:
    """``docs/settings.md``."""
    lines = [
        "# Settings",
        "",
        "Every environment variable Cloudburst reads, generated from",
        "`libs/protocol/src/cloudburst_protocol/catalogue.py` (do not edit by hand:",
        "`make settings-doc` rewrites this page, and `make test` fails when it is stale).",
        "Services read their settings once, at start-up.",
    ]
    for group in dict.fromkeys(s.group for s in SETTINGS):
        lines += ["", f"## {group.capitalize()}", ""]
        lines += ["| setting | value | default | read by | what |", "|---|---|---|---|---|"]
        for s in (s for s in SETTINGS if s.group == group):
            kind = s.kind.replace("|", "\\|")
            lines.append(f"| `{s.name}` | {kind} | {s.default or '—'} | {s.read_by} | {s.help} |")
    return "\n".join(lines) + "\n"


__all__ = ["BY_NAME", "SETTINGS", "Setting", "render_markdown"]
