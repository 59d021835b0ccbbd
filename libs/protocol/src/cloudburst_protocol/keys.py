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


MAX_KEY_BYTES = 4096
"""The longest key, in UTF-8 bytes."""
MAX_NAME_LENGTH = 256
"""The longest function or DAG name, in characters."""
MAX_DAG_FUNCTIONS = 1000
"""The most functions one DAG may list."""


def check_user_key(key: object) -> None:
    """Raises :class:`InvalidArgumentError` unless ``key`` is a key users may read or write."""
    if not isinstance(key, str) or not key:
        raise InvalidArgumentError(f"keys are non-empty strings, got {key!r}")
    if key.startswith(RESERVED_PREFIX):
        raise InvalidArgumentError(f"keys starting with {RESERVED_PREFIX!r} are reserved")
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise InvalidArgumentError(
            f"key {key[:40]!r}... is {size} bytes long; keys are at most {MAX_KEY_BYTES} bytes"
        )


def check_name(what: str, name: object) -> str:
    """``name`` if it may name a function or DAG (``what`` says which, for the message):
    1 to 256 characters, no ``/``, no NUL or other control characters, no surrounding
    spaces. Raises :class:`InvalidArgumentError` naming the problem otherwise."""
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"a {what} needs a non-empty name, got {name!r}")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgumentError(
            f"{what} name {name[:40]!r}... is {len(name)} characters long; names are at most "
            f"{MAX_NAME_LENGTH}"
        )
    if name != name.strip():
        raise InvalidArgumentError(f"invalid {what} name {name!r}: surrounding spaces")
    if "/" in name:
        raise InvalidArgumentError(f"invalid {what} name {name!r}: names may not contain '/'")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidArgumentError(
            f"invalid {what} name {name!r}: names may not contain NUL or control characters"
        )
    return name


__all__ = [
    "DAG_KEY",
    "FN_BODY",
    "FN_NAME",
    "MAX_DAG_FUNCTIONS",
    "MAX_KEY_BYTES",
    "MAX_NAME_LENGTH",
    "RESERVED_PREFIX",
    "check_name",
    "check_user_key",
]
