"""Who may call what: credentials, roles and the policy every server enforces.

Every RPC but the standard health check carries a bearer token in its ``authorization``
metadata. A server knows three kinds of token, each giving one role:

- the **cluster secret** (``CLOUDBURST_CLUSTER_SECRET``): services talking to each other —
  executors attaching, caches and executors reading and writing the storage, triggers
  between executors, management probes. Only this role reaches the storage and the node
  caches, attaches executors, or writes the runtime's reserved keys.
- the **admin token** (``CLOUDBURST_ADMIN_TOKEN``): a user who may also delete functions,
  DAGs and keys and stop the cluster. ``cbctl up`` makes one and writes it to
  ``$CLOUDBURST_HOME/token``, so the owner of a local cluster is its admin.
- **client tokens** (``CLOUDBURST_CLIENT_TOKENS``, comma-separated): register, call, read
  and write keys, list; nothing destructive.

A request without a token gets ``UNAUTHENTICATED``; a known token without the role a method
needs gets ``PERMISSION_DENIED``. Tokens are compared by their SHA-256 digest: one dictionary
constant-time compare against each known token per RPC (a stream is checked once, when it opens).
``CLOUDBURST_AUTH=off`` turns checking off (every caller is trusted; for benchmarks and
isolated test rigs only, and logged loudly).

Clients (the SDK and ``cbctl``) present ``CLOUDBURST_TOKEN`` if set, else the token in
``$CLOUDBURST_HOME/token``; see :func:`client_credentials`.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cloudburst_protocol import config
from cloudburst_protocol.errors import AuthenticationError, CloudburstError, InvalidArgumentError

AUTH_METADATA_KEY = "authorization"
BEARER = "Bearer "
TOKEN_FILE = "token"
CLUSTER_SECRET_FILE = "cluster-secret"


class Role(enum.IntEnum):
    """What a credential may do; a higher role may do everything a lower one may."""

    CLIENT = 1
    ADMIN = 2
    CLUSTER = 3


_SERVICE = "/cloudburst.v1."
# What each method needs. Methods not listed need the cluster role (closed by default).
_METHOD_ROLES: dict[str, Role] = {
    f"{_SERVICE}Scheduler/RegisterFunction": Role.CLIENT,
    f"{_SERVICE}Scheduler/RegisterDag": Role.CLIENT,
    f"{_SERVICE}Scheduler/ListFunctions": Role.CLIENT,
    f"{_SERVICE}Scheduler/ListDags": Role.CLIENT,
    f"{_SERVICE}Scheduler/GetDag": Role.CLIENT,
    f"{_SERVICE}Scheduler/Lease": Role.CLIENT,
    f"{_SERVICE}Scheduler/Call": Role.CLIENT,
    f"{_SERVICE}Scheduler/GetObject": Role.CLIENT,
    f"{_SERVICE}Scheduler/PutObject": Role.CLIENT,
    f"{_SERVICE}Scheduler/Status": Role.CLIENT,
    f"{_SERVICE}Scheduler/CallState": Role.CLIENT,
    # Listing every key lists other callers' call ids, and so their results: admin only.
    f"{_SERVICE}Scheduler/ListObjects": Role.ADMIN,
    f"{_SERVICE}Scheduler/DeleteFunction": Role.ADMIN,
    f"{_SERVICE}Scheduler/DeleteDag": Role.ADMIN,
    f"{_SERVICE}Scheduler/DeleteObject": Role.ADMIN,
    f"{_SERVICE}Executor/Calls": Role.CLIENT,
    f"{_SERVICE}Management/Status": Role.CLIENT,
    f"{_SERVICE}Management/Shutdown": Role.ADMIN,
}
_OPEN_PREFIXES = ("/grpc.health.v1.Health/",)


def required_role(method: str) -> Role | None:
    """The role ``method`` (a full gRPC method name) needs; ``None`` for open methods."""
    if method.startswith(_OPEN_PREFIXES):
        return None
    return _METHOD_ROLES.get(method, Role.CLUSTER)


class Denied(enum.Enum):
    """Why a request was refused."""

    UNAUTHENTICATED = "unauthenticated"
    PERMISSION_DENIED = "permission denied"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """The tokens a server accepts, by digest, and the role each gives."""

    enabled: bool
    roles: dict[bytes, Role]

    @classmethod
    def of(
        cls,
        cluster_secret: str,
        admin_tokens: Iterable[str] = (),
        client_tokens: Iterable[str] = (),
        enabled: bool = True,
    ) -> AuthPolicy:
        roles: dict[bytes, Role] = {}
        for role, tokens in (
            (Role.CLIENT, client_tokens),
            (Role.ADMIN, admin_tokens),
            (Role.CLUSTER, [cluster_secret] if cluster_secret else []),
        ):
            for token in tokens:
                if token:
                    roles[_digest(token)] = role  # a token listed twice keeps its highest role
        return cls(enabled, roles)

    @classmethod
    def from_env(cls) -> AuthPolicy:
        """The policy of a service process, from its environment; raises
        :class:`InvalidArgumentError` when checking is on and no cluster secret is set."""
        mode = config.env_str(config.AUTH_ENV, "token").lower()
        if mode not in ("token", "off"):
            raise InvalidArgumentError(f"{config.AUTH_ENV} must be 'token' or 'off', got {mode!r}")
        secret = config.env_str(config.CLUSTER_SECRET_ENV, "")
        if mode == "off":
            return cls(False, {})
        if not secret:
            raise InvalidArgumentError(
                f"{config.CLUSTER_SECRET_ENV} is not set: every service of a cluster needs the "
                "cluster's secret (`cbctl up` and `make compose-up` create one), or "
                f"{config.AUTH_ENV}=off to run without authentication"
            )
        return cls.of(
            secret,
            _split(config.env_str(config.ADMIN_TOKEN_ENV, "")),
            _split(config.env_str(config.CLIENT_TOKENS_ENV, "")),
        )

    def check(
        self, method: str, metadata: Iterable[tuple[str, str | bytes]] | None
    ) -> Denied | None:
        """``None`` if a request for ``method`` with this metadata may go on."""
        needed = required_role(method)
        return None if needed is None else self.check_role(needed, metadata)

    def check_role(
        self, needed: Role, metadata: Iterable[tuple[str, str | bytes]] | None
    ) -> Denied | None:
        """``None`` if this metadata carries a token with the ``needed`` role (or more)."""
        if not self.enabled:
            return None
        token = bearer_token(metadata)
        if token is None:
            return Denied.UNAUTHENTICATED
        role = self.role_of(token)
        if role is None:
            return Denied.UNAUTHENTICATED
        return None if role >= needed else Denied.PERMISSION_DENIED

    def role_of(self, token: str) -> Role | None:
        """The role ``token`` gives, compared in constant time against every known token
        (no early exit: how long this takes says nothing about which token matched)."""
        digest = _digest(token)
        found: Role | None = None
        for known, role in self.roles.items():
            if hmac.compare_digest(digest, known):
                found = role
        return found


def bearer_token(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    """The bearer token in request metadata, if any."""
    for key, value in metadata or ():
        if key == AUTH_METADATA_KEY:
            text = value.decode() if isinstance(value, bytes) else value
            if text.startswith(BEARER):
                return text[len(BEARER) :].strip() or None
            return None
    return None


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


# -- credentials a process presents ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Credentials:
    """The token a process presents, and where it was found (for error messages)."""

    token: str | None
    source: str

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return ((AUTH_METADATA_KEY, BEARER + self.token),) if self.token else ()

    def explain(self, error: E) -> E:
        """``error`` naming where this token came from, if the cluster refused it."""
        if isinstance(error, AuthenticationError):
            return type(error)(f"{error} (this client's token came from {self.source})")
        return error


E = TypeVar("E", bound=CloudburstError)


def token_file_credentials(path: Path) -> Credentials | None:
    """The token in ``path``, or ``None`` if the file is missing, unreadable or empty."""
    try:
        token = path.read_text().strip()
    except OSError:
        return None
    return Credentials(token, str(path)) if token else None


def client_credentials(home: Path | None = None) -> Credentials:
    """A client's token: ``CLOUDBURST_TOKEN`` if set, else ``$CLOUDBURST_HOME/token``."""
    token = os.environ.get(config.TOKEN_ENV, "").strip()
    if token:
        return Credentials(token, f"the {config.TOKEN_ENV} environment variable")
    path = (home or config.home()) / TOKEN_FILE
    found = token_file_credentials(path)
    if found is None:
        return Credentials(None, f"{config.TOKEN_ENV} (not set) and {path} (no token there)")
    return found


def service_credentials() -> Credentials:
    """What a service presents to the others: the cluster secret."""
    secret = config.env_str(config.CLUSTER_SECRET_ENV, "")
    return Credentials(secret or None, f"the {config.CLUSTER_SECRET_ENV} environment variable")


# -- a local cluster's secrets ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LocalSecrets:
    admin_token: str
    cluster_secret: str


def new_token() -> str:
    return secrets.token_urlsafe(32)


def ensure_local_secrets(home: Path) -> LocalSecrets:
    """The admin token and cluster secret of the local cluster rooted at ``home``.

    ``CLOUDBURST_TOKEN`` (if set) is the admin token; else the one in ``home/token``, or a new
    random one. ``CLOUDBURST_CLUSTER_SECRET`` (if set) is the cluster secret; else
    ``home/cluster-secret``, likewise. Both files end up holding what the cluster uses, so
    ``home/token`` always opens the cluster started from ``home``. ``home`` is made private
    (0700) and the files 0600.
    """
    private_home(home)
    admin = settle_token_file(home / TOKEN_FILE, os.environ.get(config.TOKEN_ENV, "").strip())
    secret = settle_token_file(
        home / CLUSTER_SECRET_FILE, os.environ.get(config.CLUSTER_SECRET_ENV, "").strip()
    )
    if admin == secret:
        raise InvalidArgumentError(
            f"{config.TOKEN_ENV} and {config.CLUSTER_SECRET_ENV} must differ: the cluster secret "
            "gives more rights than any user token"
        )
    return LocalSecrets(admin, secret)


def private_home(home: Path) -> None:
    """Makes ``home`` (a cluster's state directory) exist and be private: 0700."""
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)


def write_private(path: Path, text: str) -> None:
    """Writes ``text`` to ``path``, readable by this user only (0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def settle_token_file(path: Path, wanted: str = "") -> str:
    """``wanted`` (or the token already in ``path``, or a new one), written to ``path``."""
    try:
        current = path.read_text().strip()
    except FileNotFoundError:
        current = ""
    token = wanted or current or new_token()
    if token != current:
        write_private(path, token + "\n")
    os.chmod(path, 0o600)
    return token


__all__ = [
    "AUTH_METADATA_KEY",
    "AuthPolicy",
    "Credentials",
    "Denied",
    "LocalSecrets",
    "Role",
    "bearer_token",
    "client_credentials",
    "ensure_local_secrets",
    "new_token",
    "private_home",
    "required_role",
    "service_credentials",
    "settle_token_file",
    "token_file_credentials",
    "write_private",
]
