"""The Cloudburst error hierarchy and its mapping to wire codes and gRPC statuses.

One root, :class:`CloudburstError`; every subclass names one problem and carries its
:class:`ErrorCode`. Servers turn these into gRPC statuses (see :mod:`.grpc_errors`), and clients
turn statuses and :class:`RemoteError` messages back into the same classes through
:data:`ERROR_TYPES`, so a caller catches the same type wherever the error was raised.
"""

from __future__ import annotations

import traceback as tb
from types import TracebackType
from typing import ClassVar

import cloudpickle

from cloudburst_protocol.gen import common_pb2

ErrorCode = common_pb2.ErrorCode


class CloudburstError(Exception):
    """Root of every error the runtime raises."""

    code: ClassVar[common_pb2.ErrorCode] = common_pb2.INTERNAL


class FunctionNotFoundError(CloudburstError, LookupError):
    """A call or a DAG names a function that is not registered."""

    code = common_pb2.FUNC_NOT_FOUND


class DagNotFoundError(CloudburstError, LookupError):
    """A call names a DAG that is not registered."""

    code = common_pb2.DAG_NOT_FOUND


class InvalidDagError(CloudburstError, ValueError):
    """A DAG definition is malformed: unknown functions, a cycle, not exactly one sink..."""

    code = common_pb2.INVALID_DAG


class InvalidArgumentError(CloudburstError, ValueError):
    """A request carries a value the runtime cannot accept (an empty name, a reserved key...)."""

    code = common_pb2.INVALID_ARGUMENT


class RequestTooLargeError(InvalidArgumentError):
    """A message is larger than the size limit (``CLOUDBURST_MAX_MESSAGE_BYTES``)."""


class KeyNotFoundError(CloudburstError, KeyError):
    """A referenced key does not exist in the store."""

    code = common_pb2.KEY_NOT_FOUND

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else ""


class SerializationError(CloudburstError):
    """A value could not be serialized or deserialized."""

    code = common_pb2.SERIALIZATION_ERROR


class CallTimeoutError(CloudburstError, TimeoutError):
    """A call did not finish before its deadline."""

    code = common_pb2.TIMEOUT


class CallCancelledError(CloudburstError):
    """The call was cancelled by its caller (``future.cancel()``, Ctrl-C on ``cbctl call``)."""

    code = common_pb2.CALL_CANCELLED


class ExecutorDiedError(CloudburstError):
    """The executor running a call exited before the call finished."""

    code = common_pb2.EXECUTOR_DIED


class NoResourcesError(CloudburstError):
    """No executor is available to run a call."""

    code = common_pb2.NO_RESOURCES


class UnavailableError(CloudburstError, ConnectionError):
    """A Cloudburst service cannot be reached."""

    code = common_pb2.UNAVAILABLE


class StaleLeaseError(CloudburstError):
    """A direct call was placed with an outdated lease (a function or DAG was replaced since);
    the client refreshes its lease and retries."""

    code = common_pb2.STALE_LEASE


class SnapshotExpiredError(CloudburstError):
    """A call in a snapshot mode read a key whose version at its snapshot is no longer kept
    (the call ran longer than the store's version history)."""

    code = common_pb2.SNAPSHOT_EXPIRED


class AuthenticationError(CloudburstError, PermissionError):
    """The cluster refused the caller's credentials: no token, or one it does not know."""

    code = common_pb2.UNAUTHENTICATED


class PermissionDeniedError(AuthenticationError):
    """The caller's token is valid but its role may not do this (e.g. delete without an
    admin token)."""

    code = common_pb2.PERMISSION_DENIED


class FunctionInUseError(CloudburstError):
    """A function cannot be deleted while DAGs use it (delete them first, or force it)."""

    code = common_pb2.FUNCTION_IN_USE


class FunctionQuarantinedError(CloudburstError):
    """A function whose calls killed their executors too often (``CLOUDBURST_QUARANTINE_DEATHS``
    times within ``CLOUDBURST_QUARANTINE_WINDOW`` seconds) is quarantined: its calls fail at
    once, naming the last exit reason and when it will be tried again; registering it again
    lifts the quarantine."""

    code = common_pb2.FUNCTION_QUARANTINED


class RemoteFunctionError(CloudburstError):
    """A user function raised. Keeps the original type name, message and remote traceback.

    ``cause`` (also set as ``__cause__``) is the original exception when it could be
    transferred; ``type_name`` is always set.
    """

    code = common_pb2.EXECUTION_ERROR

    def __init__(
        self,
        type_name: str,
        message: str,
        remote_traceback: str = "",
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message
        self.remote_traceback = remote_traceback
        self.cause = cause
        if cause is not None:
            self.__cause__ = cause

    def __str__(self) -> str:
        text = f"{self.type_name}: {self.message}" if self.message else self.type_name
        if self.remote_traceback:
            text += "\n\nRemote traceback:\n" + self.remote_traceback.rstrip()
        return text

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.type_name, self.message, self.remote_traceback, self.cause))


ERROR_TYPES: dict[int, type[CloudburstError]] = {
    cls.code: cls
    for cls in (
        CloudburstError,
        FunctionNotFoundError,
        DagNotFoundError,
        InvalidDagError,
        InvalidArgumentError,
        KeyNotFoundError,
        SerializationError,
        CallTimeoutError,
        CallCancelledError,
        ExecutorDiedError,
        NoResourcesError,
        UnavailableError,
        StaleLeaseError,
        SnapshotExpiredError,
        AuthenticationError,
        PermissionDeniedError,
        FunctionInUseError,
        FunctionQuarantinedError,
        RemoteFunctionError,
    )
}


def error_for_code(code: int, message: str) -> CloudburstError:
    """The typed error for a wire code (unknown codes become the root type)."""
    cls = ERROR_TYPES.get(code, CloudburstError)
    if cls is RemoteFunctionError:
        return RemoteFunctionError("Exception", message)
    return cls(message)


_HIDDEN_FRAMES = ("/cloudburst_executor/", "/cloudburst_protocol/", "concurrent/futures/")


def trimmed_traceback(tb_obj: TracebackType | None) -> str:
    """The traceback of a user function without the runtime's own frames."""
    frames = [
        frame
        for frame in tb.extract_tb(tb_obj)
        if not any(part in frame.filename for part in _HIDDEN_FRAMES)
    ]
    if not frames:
        return ""
    return "Traceback (most recent call last):\n" + "".join(tb.format_list(frames[-20:]))


def to_remote_error(exc: BaseException) -> common_pb2.RemoteError:
    """Describe ``exc`` as a wire message; a user exception keeps type, message and traceback."""
    if isinstance(exc, CloudburstError) and not isinstance(exc, RemoteFunctionError):
        return common_pb2.RemoteError(code=exc.code, type_name=type(exc).__name__, message=str(exc))
    if isinstance(exc, RemoteFunctionError):
        return common_pb2.RemoteError(
            code=exc.code,
            type_name=exc.type_name,
            message=exc.message,
            traceback=exc.remote_traceback,
        )
    try:
        pickled = cloudpickle.dumps(exc)
    except Exception:  # unpicklable exceptions still travel by name and message
        pickled = b""
    return common_pb2.RemoteError(
        code=common_pb2.EXECUTION_ERROR,
        type_name=_qualified_name(type(exc)),
        message=str(exc),
        traceback=trimmed_traceback(exc.__traceback__),
        exception=pickled,
    )


def from_remote_error(error: common_pb2.RemoteError) -> CloudburstError:
    """The typed exception for a wire error."""
    if error.code == common_pb2.EXECUTION_ERROR:
        cause: BaseException | None = None
        if error.exception:
            try:
                loaded = cloudpickle.loads(error.exception)
            except Exception:  # the class may not exist on this side
                loaded = None
            if isinstance(loaded, BaseException):
                cause = loaded
        return RemoteFunctionError(error.type_name, error.message, error.traceback, cause)
    return error_for_code(error.code, error.message)


def _qualified_name(cls: type) -> str:
    module = cls.__module__
    if module in ("builtins", "__main__", None):
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


__all__ = [
    "ERROR_TYPES",
    "AuthenticationError",
    "CallCancelledError",
    "CallTimeoutError",
    "CloudburstError",
    "DagNotFoundError",
    "ErrorCode",
    "ExecutorDiedError",
    "FunctionInUseError",
    "FunctionNotFoundError",
    "FunctionQuarantinedError",
    "InvalidArgumentError",
    "InvalidDagError",
    "KeyNotFoundError",
    "NoResourcesError",
    "PermissionDeniedError",
    "RemoteFunctionError",
    "RequestTooLargeError",
    "SerializationError",
    "SnapshotExpiredError",
    "StaleLeaseError",
    "UnavailableError",
    "error_for_code",
    "from_remote_error",
    "to_remote_error",
    "trimmed_traceback",
]
