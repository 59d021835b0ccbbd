"""How cbctl prints: results and JSON on stdout, messages, errors and spinners on stderr.

stdout carries only what a script would read (a value, a call id, JSON); everything meant for
a person watching (errors, progress, notes) goes to stderr, so ``cbctl ... --json | jq`` works.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.status import Status

console = Console()
"""stdout: tables, trees and results."""

errors = Console(stderr=True)
"""stderr: errors, notes and spinners."""

SPINNER_DELAY_S = 1.0
"""A wait shorter than this shows no spinner."""


_json_errors: ContextVar[bool] = ContextVar("json_errors", default=False)


def use_json(enabled: bool) -> None:
    """Called by a command given ``--json``: from then on its errors are also JSON on stdout."""
    _json_errors.set(enabled)


def fail(message: str, *, error_type: str = "", code: int = 1, **fields: Any) -> typer.Exit:
    """Prints ``message`` as one error line on stderr; returns the exit to raise (status 1).

    Under ``--json`` (see :func:`use_json`) the error is also one JSON line on stdout,
    ``{"error": {"type": ..., "message": ...}, ...fields}``, so a script reading stdout sees
    it. ``error_type`` is the error's class name (``CliError`` when it is cbctl's own);
    ``code`` the exit status."""
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    if _json_errors.get():
        echo_json({"error": {"type": error_type or "CliError", "message": message}, **fields})
    return typer.Exit(code)


def note(message: str) -> None:
    """A remark for the person at the terminal (stderr, so stdout stays parseable)."""
    errors.print(escape(message), style="dim", highlight=False, soft_wrap=True)


def done(message: str) -> None:
    """Confirms an action on stdout (``registered ...``, ``deleted ...``)."""
    console.print(escape(message), highlight=False, soft_wrap=True)


def echo_json(data: Any) -> None:
    """One line of JSON on stdout; values JSON cannot hold are written as their ``repr``."""
    typer.echo(json.dumps(data, default=repr))


def format_value(value: Any) -> str:
    """A result for a person: JSON when it is JSON-serializable (lists and dicts indented),
    its ``repr`` otherwise (tuples, sets, objects, ...)."""
    if not _is_plain_json(value):
        return repr(value)
    indent = 2 if isinstance(value, dict | list) and value else None
    return json.dumps(value, indent=indent, ensure_ascii=False)


def print_result(call_id: str, value: Any, as_json: bool) -> None:
    """A call's result: the value for a person, or ``{"call_id", "result"}`` as JSON."""
    if as_json:
        echo_json({"call_id": call_id, "result": value})
    else:
        echo_value(value)


def echo_value(value: Any) -> None:
    typer.echo(format_value(value))


def echo_names(names: list[str], as_json: bool, kind: str) -> None:
    """A list of names: one a line, or a JSON list with ``--json``."""
    if as_json:
        echo_json(names)
        return
    if not names:
        note(f"no {kind}" if kind == "keys" else f"no {kind} registered")
    for item in names:
        typer.echo(item)


def _is_plain_json(value: Any) -> bool:
    """True when ``value`` survives a JSON round trip unchanged (so tuples, non-string keys
    and NaN do not qualify)."""
    try:
        return bool(json.loads(json.dumps(value, allow_nan=False)) == value)
    except (TypeError, ValueError, RecursionError):
        return False


class _DelayedStatus:
    """A rich status that appears only once a wait has lasted ``delay`` seconds."""

    def __init__(self, message: str, terminal: Console, delay: float) -> None:
        self._status = Status(message, console=terminal)
        self._lock = threading.Lock()
        self._finished = False
        self._shown = False
        self._timer = threading.Timer(delay, self._show)
        self._timer.daemon = True

    def _show(self) -> None:
        with self._lock:
            if not self._finished:
                self._status.start()
                self._shown = True

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._finished = True
            if self._shown:
                self._status.stop()


@contextmanager
def waiting(
    message: str, terminal: Console | None = None, delay: float = SPINNER_DELAY_S
) -> Iterator[None]:
    """Shows a spinner with ``message`` on stderr while the block runs longer than ``delay``
    seconds. Nothing is drawn when stderr is not a terminal."""
    terminal = terminal or errors
    if not terminal.is_terminal:
        yield
        return
    status = _DelayedStatus(message, terminal, delay)
    status.start()
    try:
        yield
    finally:
        status.stop()


__all__ = [
    "SPINNER_DELAY_S",
    "console",
    "done",
    "echo_json",
    "echo_names",
    "echo_value",
    "errors",
    "fail",
    "format_value",
    "note",
    "use_json",
    "waiting",
]
