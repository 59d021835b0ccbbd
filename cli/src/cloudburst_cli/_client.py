"""Reaching the cluster: the address options, one connection per command, and turning every
SDK error into one line on stderr and exit status 1."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from cloudburst import (
    CloudburstConnection,
    CloudburstError,
    RemoteFunctionError,
    UnavailableError,
)
from cloudburst._connection import resolve_address

from cloudburst_cli._output import errors, fail, waiting

ADDRESS_ENV = "CLOUDBURST_ADDRESS"
CONNECT_TIMEOUT_ENV = "CLOUDBURST_CONNECT_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Settings:
    """The global options (``cbctl --address ... COMMAND``), kept on the click context."""

    address: str | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S


GlobalAddressOption = Annotated[
    str | None,
    typer.Option(
        "--address",
        envvar=ADDRESS_ENV,
        help="Scheduler address, host or host:port (port defaults to CLOUDBURST_SCHEDULER_PORT "
        "or 7070).",
        show_default="the local cluster",
    ),
]

AddressOption = Annotated[
    str | None,
    typer.Option(
        "--address",
        help=f"Scheduler address, host or host:port; overrides `cbctl --address` and "
        f"{ADDRESS_ENV}.",
        show_default="the local cluster",
    ),
]
"""Each cluster command takes ``--address`` too, so it may follow the command name. It has no
envvar of its own: the environment is read by the global option, so an explicit global
``--address`` wins over the variable and a command's ``--address`` wins over both."""

ConnectTimeoutOption = Annotated[
    float,
    typer.Option(
        "--connect-timeout",
        envvar=CONNECT_TIMEOUT_ENV,
        min=0.1,
        help="Seconds to wait for the scheduler to answer before giving up.",
    ),
]

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (one line) on stdout.")]

VerboseOption = Annotated[
    bool,
    typer.Option(
        "--verbose", "-v", help="On a failure in a function, also print its remote traceback."
    ),
]


def settings(ctx: typer.Context) -> Settings:
    obj = ctx.find_object(Settings)
    return obj if obj is not None else Settings()


@contextmanager
def reporting_errors(verbose: bool = False, call_id: str | None = None) -> Iterator[None]:
    """Turns a :class:`CloudburstError` raised in the block into one error line and exit 1.

    With ``call_id`` (the block waits for that call) the line names the call, so it can be
    traced (``cbctl trace ID``); Ctrl-C there says the call goes on and how to read it."""
    ids: dict[str, Any] = {} if call_id is None else {"call_id": call_id}
    named = f"call {call_id}" if call_id is not None else ""
    try:
        yield
    except RemoteFunctionError as exc:
        if verbose and exc.remote_traceback:
            errors.print(
                exc.remote_traceback.rstrip(), highlight=False, markup=False, soft_wrap=True
            )
        message = f"{exc.type_name}: {exc.message}" if exc.message else exc.type_name
        notes = [named] if named else []
        if not verbose:
            notes.append("--verbose shows the remote traceback")
        hint = f" ({'; '.join(notes)})" if notes else ""
        raise fail(
            f"the function raised {message}{hint}", error_type=type(exc).__name__, **ids
        ) from None
    except CloudburstError as exc:
        hint = f" ({named})" if named and str(call_id) not in str(exc) else ""
        kind = type(exc).__name__
        raise fail(f"{kind}: {exc}{hint}", error_type=kind, **ids) from None
    except KeyboardInterrupt:
        if call_id is None:
            raise
        raise fail(
            f"interrupted; call {call_id} goes on (once it ends, `cbctl result {call_id}` "
            "reads its result)",
            error_type="Interrupted",
            code=130,
            **ids,
        ) from None


@contextmanager
def connect(
    ctx: typer.Context,
    address: str | None = None,
    *,
    timeout: float | None = None,
    verbose: bool = False,
) -> Iterator[CloudburstConnection]:
    """A connection to the scheduler chosen by the options, closed after the block. Errors in
    the block become one line and exit 1. ``timeout`` bounds each call (the SDK's default,
    ``CLOUDBURST_CALL_TIMEOUT`` or 300 s, when None)."""
    chosen = settings(ctx)
    target = resolve_address(address if address is not None else chosen.address)
    with waiting(f"connecting to the scheduler at {target}…"):
        unreachable = _unreachable(target, chosen.connect_timeout)
        if unreachable:
            raise fail(
                f"no Cloudburst scheduler answers at {target} ({unreachable}); is the cluster "
                "running? (start one with `cbctl up`)",
                error_type="UnavailableError",
            )
        try:
            connection = CloudburstConnection(
                target, timeout=timeout, connect_timeout=chosen.connect_timeout
            )
        except UnavailableError as exc:
            # The SDK's message names the address it tried and how to start a cluster.
            raise fail(str(exc), error_type=type(exc).__name__) from None
        except CloudburstError as exc:
            raise fail(f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__) from None
    with connection, reporting_errors(verbose):
        yield connection


_LOOKS_LIKE_JSON = re.compile(r"\s*([\[{\"]|[-+]?\.?\d)")


def parse_arg(text: str, what: str = "argument") -> Any:
    """A command-line argument as JSON (``3``, ``"3"``, ``[1, 2]``, ``{"a": 1}``, ``null``).
    A bare word that does not start like JSON (``hello``, ``two words``) is that string; text
    that starts like JSON (a bracket, a brace, a quote or a number) but does not parse is a
    one-line error with the parse error, never silently a string."""
    try:
        return json.loads(text)
    except ValueError as exc:
        if not _LOOKS_LIKE_JSON.match(text):
            return text
        quoted = json.dumps(text)
        raise fail(
            f"{what} is not valid JSON: {text!r} ({exc}); to pass it as text, quote it: '{quoted}'",
            error_type="InvalidArgumentError",
        ) from None


def _unreachable(address: str, timeout: float) -> str:
    """Why nothing answers at ``address`` (connection refused, an unknown host, no answer
    within ``timeout``), found with one TCP connect so cbctl fails at once instead of waiting
    out gRPC's reconnection backoff; empty when something accepts the connection."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return ""
    except ConnectionRefusedError:
        return "connection refused"
    except socket.gaierror:
        return f"cannot resolve {host!r}"
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except (OSError, ValueError):
        return ""  # let the SDK try, and report what it finds


def parse_json(text: str, what: str, hint: str = "") -> Any:
    """``text`` as JSON; anything else is a one-line error naming ``what`` (then ``hint``)."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise fail(
            f"{what} is not valid JSON: {text!r} ({exc}){hint}", error_type="InvalidArgumentError"
        ) from None


__all__ = [
    "ADDRESS_ENV",
    "CONNECT_TIMEOUT_ENV",
    "AddressOption",
    "ConnectTimeoutOption",
    "GlobalAddressOption",
    "JsonOption",
    "Settings",
    "VerboseOption",
    "connect",
    "parse_arg",
    "parse_json",
    "reporting_errors",
    "settings",
]
