"""Where the runtime keeps its own records in the store, and the check on users' keys.

Keys under ``RESERVED_PREFIX`` belong to the runtime (function bodies, registrations, DAGs);
users can neither read nor write them.
"""

from __future__ import annotations

from cloudburst_protocol.errors import InvalidArgumentError

RESERVED_PREFIX = "__cb/"
FN_BODY = RESERVED_PREFIX + "fn/"
"""A function's body by digest (immutable): ``FN_BODY + digest``."""
FN_NAME = RESERVED_PREFIX + "fnname/"
"""A function name's current (digest, kind)."""
DAG_KEY = RESERVED_PREFIX + "dag/"
"""A DAG's (functions, connections)."""


def check_user_key(key: object) -> None:
    """Raises :class:`InvalidArgumentError` unless ``key`` is a key users may read or write."""
    if not isinstance(key, str) or not key:
        raise InvalidArgumentError(f"keys are non-empty strings, got {key!r}")
    if key.startswith(RESERVED_PREFIX):
        raise InvalidArgumentError(f"keys starting with {RESERVED_PREFIX!r} are reserved")


__all__ = ["DAG_KEY", "FN_BODY", "FN_NAME", "RESERVED_PREFIX", "check_user_key"]
