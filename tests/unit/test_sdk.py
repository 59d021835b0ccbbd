"""Unit tests for the SDK's pure helpers (cloudburst._connection)."""

from __future__ import annotations

from typing import Any

import pytest
from cloudburst._connection import _as_list, _check_init_args, _consistency, resolve_address
from cloudburst_protocol.errors import InvalidArgumentError
from cloudburst_protocol.gen import common_pb2


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test without the address-related environment variables."""
    for name in (
        "CLOUDBURST_SCHEDULER_PORT",
        "CLOUDBURST_SCHEDULER_ADDRESS",
        "CLOUDBURST_HOST",
    ):
        monkeypatch.delenv(name, raising=False)


# -- resolve_address --------------------------------------------------------------------------


@pytest.mark.parametrize("address", [None, "", "   ", "\t\n"])
def test_empty_address_is_local_default(address: str | None) -> None:
    """An empty or blank address means the local scheduler at 127.0.0.1:7070."""
    assert resolve_address(address) == "127.0.0.1:7070"


def test_empty_address_respects_port_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """CLOUDBURST_SCHEDULER_PORT changes the default local address's port."""
    monkeypatch.setenv("CLOUDBURST_SCHEDULER_PORT", "9123")
    assert resolve_address("") == "127.0.0.1:9123"


def test_host_without_port_gets_default_port() -> None:
    """A bare host gets the default scheduler port."""
    assert resolve_address("10.0.0.5") == "10.0.0.5:7070"
    assert resolve_address("scheduler.local") == "scheduler.local:7070"


def test_host_without_port_respects_port_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare host gets the port from CLOUDBURST_SCHEDULER_PORT when it is set."""
    monkeypatch.setenv("CLOUDBURST_SCHEDULER_PORT", " 8000 ")
    assert resolve_address("example.org") == "example.org:8000"


def test_host_and_port_kept() -> None:
    """An address with a port is returned as given (port env ignored)."""
    assert resolve_address("example.org:1234") == "example.org:1234"


def test_host_and_port_kept_despite_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit port wins over CLOUDBURST_SCHEDULER_PORT."""
    monkeypatch.setenv("CLOUDBURST_SCHEDULER_PORT", "9999")
    assert resolve_address("example.org:1234") == "example.org:1234"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("  10.0.0.5  ", "10.0.0.5:7070"),
        ("\n10.0.0.5:80\t", "10.0.0.5:80"),
        (" localhost", "localhost:7070"),
    ],
)
def test_stray_whitespace_stripped(given: str, expected: str) -> None:
    """Leading and trailing whitespace around the address is ignored."""
    assert resolve_address(given) == expected


def test_bracketed_ipv6() -> None:
    """A bracketed IPv6 literal keeps its port, or gets the default one."""
    assert resolve_address("[::1]:9000") == "[::1]:9000"
    assert resolve_address("[::1]") == "[::1]:7070"


def test_bare_ipv6_gets_bracketed_port() -> None:
    """A bare IPv6 literal gets brackets before the default port is added."""
    assert resolve_address("::1") == "[::1]:7070"


def test_bad_port_env_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-integer CLOUDBURST_SCHEDULER_PORT raises InvalidArgumentError."""
    monkeypatch.setenv("CLOUDBURST_SCHEDULER_PORT", "eighty")
    with pytest.raises(InvalidArgumentError, match="CLOUDBURST_SCHEDULER_PORT"):
        resolve_address("host")


# -- _as_list ---------------------------------------------------------------------------------


def test_as_list_keeps_list_as_copy() -> None:
    """A list is the argument list itself (copied, not wrapped)."""
    args = [1, "two", None]
    result = _as_list(args)
    assert result == [1, "two", None]
    assert result is not args


@pytest.mark.parametrize(
    "value", [5, "text", None, (1, 2), {"a": 1}, b"raw"], ids=lambda v: type(v).__name__
)
def test_as_list_wraps_everything_else(value: Any) -> None:
    """A scalar, a tuple, a dict... is one argument, wrapped in a list."""
    assert _as_list(value) == [value]


def test_as_list_empty_list() -> None:
    """An empty list means no arguments."""
    assert _as_list([]) == []


# -- _consistency -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("normal", common_pb2.NORMAL),
        ("single", common_pb2.SINGLE),
        ("multi", common_pb2.MULTI),
        ("NORMAL", common_pb2.NORMAL),
        ("Multi", common_pb2.MULTI),
        (common_pb2.NORMAL, common_pb2.NORMAL),
        (common_pb2.SINGLE, common_pb2.SINGLE),
        (common_pb2.MULTI, common_pb2.MULTI),
        (0, common_pb2.NORMAL),
        (2, common_pb2.MULTI),
    ],
)
def test_consistency_names_and_values(given: Any, expected: int) -> None:
    """Consistency accepts names (any case) and enum values."""
    assert _consistency(given) == expected


@pytest.mark.parametrize("given", ["eventual", "", " normal", 4, -1, 99])
def test_consistency_unknown_rejected(given: Any) -> None:
    """An unknown consistency name or value raises InvalidArgumentError."""
    with pytest.raises(InvalidArgumentError, match="unknown consistency"):
        _consistency(given)


def test_consistency_error_lists_choices() -> None:
    """The error for an unknown name lists the accepted names."""
    with pytest.raises(InvalidArgumentError) as info:
        _consistency("strong")
    assert "['causal', 'multi', 'normal', 'repeatable_read', 'single']" in str(info.value)


class _Pair:
    def __init__(self, a: Any, b: Any) -> None:
        self.a, self.b = a, b

    def run(self, x: Any) -> Any:
        return x


class _WithLibrary:
    def __init__(self, cloudburst: Any, factor: Any) -> None:
        self.factor = factor

    def run(self, x: Any) -> Any:
        return x


class _Plain:
    def run(self, x: Any) -> Any:
        return x


@pytest.mark.parametrize(
    "spec",
    [(_Pair, (1, 2)), (_WithLibrary, 3), (_WithLibrary, (3,)), (_Plain,), (_Plain, ())],
)
def test_init_args_that_fit_are_accepted(spec: tuple[Any, ...]) -> None:
    """Init args that __init__ takes (after the user library, when it asks for it) pass."""
    _check_init_args(spec)


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ((_Pair,), "missing a required argument: 'a'"),
        ((_Pair, (1, 2, 3)), "too many positional arguments"),
        ((_WithLibrary,), "missing a required argument"),
    ],
)
def test_init_args_that_do_not_fit_are_refused(spec: tuple[Any, ...], needle: str) -> None:
    """A class whose __init__ cannot take the init args given is refused at registration,
    naming the class and the problem, instead of failing at its first call."""
    with pytest.raises(InvalidArgumentError, match=needle) as info:
        _check_init_args(spec)
    assert spec[0].__qualname__ in str(info.value)
