"""Unit tests for the error hierarchy (cloudburst_protocol.errors) and its gRPC mapping
(cloudburst_protocol.grpc_errors)."""

from __future__ import annotations

import inspect
import pickle
import threading
from collections.abc import Sequence
from typing import Any

import cloudpickle
import grpc
import pytest
from cloudburst_executor.functions import KIND_FUNCTION, LoadedFunction
from cloudburst_protocol import errors
from cloudburst_protocol.errors import (
    ERROR_TYPES,
    AuthenticationError,
    CallCancelledError,
    CallTimeoutError,
    CloudburstError,
    DagNotFoundError,
    ExecutorDiedError,
    FunctionInUseError,
    FunctionNotFoundError,
    FunctionQuarantinedError,
    InvalidArgumentError,
    InvalidDagError,
    KeyNotFoundError,
    NoResourcesError,
    PermissionDeniedError,
    RemoteFunctionError,
    SerializationError,
    SnapshotExpiredError,
    StaleLeaseError,
    UnavailableError,
    error_for_code,
    from_remote_error,
    to_remote_error,
)
from cloudburst_protocol.gen import common_pb2
from cloudburst_protocol.grpc_errors import ERROR_CODE_KEY, error_from_rpc, status_for

ALL_ERROR_CLASSES: list[type[CloudburstError]] = [
    CloudburstError,
    FunctionNotFoundError,
    DagNotFoundError,
    InvalidDagError,
    InvalidArgumentError,
    KeyNotFoundError,
    SerializationError,
    CallTimeoutError,
    ExecutorDiedError,
    NoResourcesError,
    SnapshotExpiredError,
    StaleLeaseError,
    FunctionInUseError,
    FunctionQuarantinedError,
    CallCancelledError,
    UnavailableError,
    AuthenticationError,
    PermissionDeniedError,
    RemoteFunctionError,
]
PLAIN_ERROR_CLASSES = [cls for cls in ALL_ERROR_CLASSES if cls is not RemoteFunctionError]


def user_function(cloudburst: Any, x: int) -> int:
    """A user function that fails."""
    return helper_that_raises(x)


def helper_that_raises(x: int) -> int:
    raise ValueError(f"bad input {x}")


class LockedError(Exception):
    """An exception that cannot be pickled (it holds a lock)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()


class TwoArgError(Exception):
    """An exception that pickles but cannot be rebuilt from its args on unpickling."""

    def __init__(self, first: str, second: str) -> None:
        super().__init__(f"{first}/{second}")


def _raise_and_catch(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


# -- user exceptions --------------------------------------------------------------------------


def test_user_value_error_round_trip_through_executor() -> None:
    """A ValueError raised in a user function keeps type, message, cause and a trimmed traceback."""
    loaded = LoadedFunction("f", cloudpickle.dumps(user_function), KIND_FUNCTION)
    with pytest.raises(ValueError) as info:
        loaded(object(), [3])
    remote = to_remote_error(info.value)
    assert remote.code == common_pb2.EXECUTION_ERROR
    assert remote.type_name == "ValueError"
    assert remote.message == "bad input 3"
    assert remote.traceback.startswith("Traceback (most recent call last):")
    assert "in user_function" in remote.traceback
    assert "in helper_that_raises" in remote.traceback
    assert 'raise ValueError(f"bad input {x}")' in remote.traceback
    assert "/cloudburst_executor/" not in remote.traceback
    assert "/cloudburst_protocol/" not in remote.traceback

    back = from_remote_error(remote)
    assert type(back) is RemoteFunctionError
    assert back.type_name == "ValueError"
    assert back.message == "bad input 3"
    assert back.remote_traceback == remote.traceback
    assert isinstance(back.cause, ValueError)
    assert back.cause.args == ("bad input 3",)
    assert back.__cause__ is back.cause
    assert str(back).startswith("ValueError: bad input 3\n\nRemote traceback:\n")


def test_hidden_frames_are_trimmed_by_path() -> None:
    """Frames whose file lies under /cloudburst_executor/ are dropped from the traceback."""
    namespace: dict[str, Any] = {}
    code = compile(
        "def runtime_frame(fn):\n    return fn()\n", "/srv/cloudburst_executor/fake.py", "exec"
    )
    exec(code, namespace)

    def user_code() -> None:
        raise RuntimeError("from user")

    with pytest.raises(RuntimeError) as info:
        namespace["runtime_frame"](user_code)
    text = errors.trimmed_traceback(info.value.__traceback__)
    assert "in user_code" in text
    assert "fake.py" not in text
    assert "in runtime_frame" not in text
    assert "cloudburst_executor" not in text


def test_trimmed_traceback_of_nothing_is_empty() -> None:
    """No traceback (or only runtime frames) gives an empty string."""
    assert errors.trimmed_traceback(None) == ""


def test_trimmed_traceback_keeps_last_twenty_frames() -> None:
    """A deep call chain is cut to its last 20 frames, the innermost kept."""

    def ping(n: int) -> None:
        if n == 0:
            raise RuntimeError("deep")
        pong(n - 1)

    def pong(n: int) -> None:
        ping(n - 1)

    with pytest.raises(RuntimeError) as info:
        ping(40)
    text = errors.trimmed_traceback(info.value.__traceback__)
    assert text.count('  File "') == 20
    assert "test_trimmed_traceback_keeps_last_twenty_frames" not in text
    assert text.rstrip().endswith('raise RuntimeError("deep")')


def test_unpicklable_exception_is_still_typed_by_name() -> None:
    """An exception that cannot be pickled travels by name and message, without a cause."""
    exc = _raise_and_catch(LockedError("locked up"))
    remote = to_remote_error(exc)
    assert remote.code == common_pb2.EXECUTION_ERROR
    assert remote.exception == b""
    assert remote.type_name.endswith("LockedError")
    assert remote.type_name != "LockedError"  # qualified with its module
    assert remote.message == "locked up"
    back = from_remote_error(remote)
    assert isinstance(back, RemoteFunctionError)
    assert back.type_name == remote.type_name
    assert back.message == "locked up"
    assert back.cause is None
    assert back.__cause__ is None


def test_exception_that_fails_to_unpickle_has_no_cause() -> None:
    """An exception whose pickle cannot be loaded back is still typed, with no cause."""
    exc = _raise_and_catch(TwoArgError("a", "b"))
    remote = to_remote_error(exc)
    assert remote.exception != b""
    back = from_remote_error(remote)
    assert isinstance(back, RemoteFunctionError)
    assert back.type_name.endswith("TwoArgError")
    assert back.message == "a/b"
    assert back.cause is None


def test_garbage_exception_bytes_are_ignored() -> None:
    """A RemoteError whose pickled exception is garbage still yields RemoteFunctionError."""
    remote = common_pb2.RemoteError(
        code=common_pb2.EXECUTION_ERROR, type_name="mod.Gone", message="m", exception=b"junk"
    )
    back = from_remote_error(remote)
    assert isinstance(back, RemoteFunctionError)
    assert back.type_name == "mod.Gone"
    assert back.cause is None


def test_builtin_exception_type_name_is_unqualified() -> None:
    """Builtin exception types travel under their bare names."""
    remote = to_remote_error(_raise_and_catch(ZeroDivisionError("division by zero")))
    assert remote.type_name == "ZeroDivisionError"


# -- CloudburstError subclasses ---------------------------------------------------------------


@pytest.mark.parametrize("cls", PLAIN_ERROR_CLASSES, ids=lambda c: c.__name__)
def test_cloudburst_error_round_trip(cls: type[CloudburstError]) -> None:
    """Each CloudburstError subclass comes back as the same class with the same message."""
    remote = to_remote_error(cls("something went wrong"))
    assert remote.code == cls.code
    assert remote.type_name == cls.__name__
    back = from_remote_error(remote)
    assert type(back) is cls
    assert str(back) == "something went wrong"


def test_remote_function_error_round_trip() -> None:
    """A RemoteFunctionError re-sent keeps its original type name, message and traceback."""
    original = RemoteFunctionError("pkg.CustomError", "oops", "Traceback ...\n")
    remote = to_remote_error(original)
    assert remote.code == common_pb2.EXECUTION_ERROR
    assert remote.type_name == "pkg.CustomError"
    back = from_remote_error(remote)
    assert type(back) is RemoteFunctionError
    assert (back.type_name, back.message, back.remote_traceback) == (
        "pkg.CustomError",
        "oops",
        "Traceback ...\n",
    )


def test_key_not_found_message_is_not_quoted() -> None:
    """KeyNotFoundError prints its message as is, unlike KeyError."""
    assert str(KeyNotFoundError("key 'k' is not in the store")) == "key 'k' is not in the store"
    assert str(KeyNotFoundError()) == ""


def test_error_types_cover_each_class_uniquely() -> None:
    """ERROR_TYPES maps every class's code to that class, one code per class."""
    codes = [cls.code for cls in ALL_ERROR_CLASSES]
    assert len(set(codes)) == len(codes)
    assert len(ERROR_TYPES) == len(ALL_ERROR_CLASSES)
    for cls in ALL_ERROR_CLASSES:
        assert ERROR_TYPES[cls.code] is cls


def test_error_types_cover_every_subclass_in_module() -> None:
    """Every CloudburstError subclass defined in the errors module is registered."""
    defined = {
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, CloudburstError) and obj.__module__ == errors.__name__
    }
    # RequestTooLargeError is made on the client from gRPC's own size-limit status; on the
    # wire it is an INVALID_ARGUMENT.
    assert defined - {errors.RequestTooLargeError} == set(ERROR_TYPES.values())


def test_error_classes_keep_builtin_bases() -> None:
    """Typed errors can also be caught by the matching builtin exception type."""
    assert issubclass(FunctionNotFoundError, LookupError)
    assert issubclass(KeyNotFoundError, KeyError)
    assert issubclass(InvalidDagError, ValueError)
    assert issubclass(InvalidArgumentError, ValueError)
    assert issubclass(CallTimeoutError, TimeoutError)
    assert issubclass(UnavailableError, ConnectionError)


def test_error_for_unknown_code_is_root() -> None:
    """An unknown code (e.g. DAG_ALREADY_EXISTS or 999) becomes a plain CloudburstError."""
    for code in (common_pb2.DAG_ALREADY_EXISTS, 999):
        error = error_for_code(code, "msg")
        assert type(error) is CloudburstError
        assert str(error) == "msg"


def test_error_for_execution_code_is_remote_function_error() -> None:
    """The EXECUTION_ERROR code alone gives a RemoteFunctionError typed 'Exception'."""
    error = error_for_code(common_pb2.EXECUTION_ERROR, "it broke")
    assert isinstance(error, RemoteFunctionError)
    assert error.type_name == "Exception"
    assert error.message == "it broke"


# -- RemoteFunctionError ----------------------------------------------------------------------


def test_remote_function_error_pickles() -> None:
    """RemoteFunctionError survives pickle with every field and its cause."""
    cause = ValueError("inner")
    error = RemoteFunctionError("ValueError", "inner", "tb text", cause)
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is RemoteFunctionError
    assert back.type_name == "ValueError"
    assert back.message == "inner"
    assert back.remote_traceback == "tb text"
    assert isinstance(back.cause, ValueError)
    assert back.cause.args == ("inner",)
    assert back.__cause__ is back.cause
    assert str(back) == str(error)


def test_remote_function_error_without_message() -> None:
    """A RemoteFunctionError with no message prints just the type name."""
    error = RemoteFunctionError("StopIteration", "")
    assert str(error) == "StopIteration"
    assert error.cause is None


# -- gRPC -------------------------------------------------------------------------------------


class FakeRpcError(grpc.RpcError):  # type: ignore[misc]  # grpc is untyped
    """A failed RPC as grpc raises it: code(), details(), trailing_metadata()."""

    def __init__(
        self,
        code: grpc.StatusCode,
        details: str = "",
        metadata: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__()
        self._code = code
        self._details = details
        self._metadata = tuple(metadata)

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata


@pytest.mark.parametrize("cls", PLAIN_ERROR_CLASSES, ids=lambda c: c.__name__)
def test_rpc_metadata_code_gives_typed_error(cls: type[CloudburstError]) -> None:
    """The error code in trailing metadata picks the error class; details become the message."""
    exc = FakeRpcError(
        status_for(cls("x")), "the details", [("other", "1"), (ERROR_CODE_KEY, str(cls.code))]
    )
    error = error_from_rpc(exc, "host:1")
    assert type(error) is cls
    assert str(error) == "the details"


@pytest.mark.parametrize("status", [grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE])
def test_rpc_metadata_code_wins_over_status(status: grpc.StatusCode) -> None:
    """A metadata code wins even over the statuses that have their own mapping."""
    exc = FakeRpcError(
        status, "dag d is malformed", [(ERROR_CODE_KEY, str(common_pb2.INVALID_DAG))]
    )
    error = error_from_rpc(exc)
    assert type(error) is InvalidDagError
    assert str(error) == "dag d is malformed"


def test_rpc_deadline_exceeded_is_call_timeout() -> None:
    """DEADLINE_EXCEEDED without metadata becomes CallTimeoutError naming the target."""
    error = error_from_rpc(FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "late"), "h:7070")
    assert type(error) is CallTimeoutError
    assert "h:7070" in str(error)


def test_rpc_unavailable_is_unavailable_error() -> None:
    """UNAVAILABLE without metadata becomes UnavailableError with target and details."""
    error = error_from_rpc(FakeRpcError(grpc.StatusCode.UNAVAILABLE, "conn refused"), "h:7070")
    assert type(error) is UnavailableError
    assert "h:7070" in str(error)
    assert "conn refused" in str(error)


def test_rpc_unavailable_without_target() -> None:
    """Without a target the message does not mention one."""
    error = error_from_rpc(FakeRpcError(grpc.StatusCode.UNAVAILABLE, "down"))
    assert str(error) == "service unavailable: down"


def test_rpc_cancelled_is_root_error() -> None:
    """CANCELLED becomes a plain CloudburstError saying so."""
    error = error_from_rpc(FakeRpcError(grpc.StatusCode.CANCELLED, "bye"))
    assert type(error) is CloudburstError
    assert "cancelled" in str(error)


def test_rpc_other_status_names_the_status() -> None:
    """Any other status becomes a CloudburstError naming the status and details."""
    error = error_from_rpc(FakeRpcError(grpc.StatusCode.DATA_LOSS, "nope"), "t")
    assert type(error) is CloudburstError
    assert str(error) == "DATA_LOSS at t: nope"


def test_rpc_error_without_call_methods() -> None:
    """A bare RpcError (no code/details/metadata) becomes an UNKNOWN CloudburstError."""
    error = error_from_rpc(grpc.RpcError())
    assert type(error) is CloudburstError
    assert str(error).startswith("UNKNOWN")


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (FunctionNotFoundError, grpc.StatusCode.NOT_FOUND),
        (DagNotFoundError, grpc.StatusCode.NOT_FOUND),
        (KeyNotFoundError, grpc.StatusCode.NOT_FOUND),
        (InvalidArgumentError, grpc.StatusCode.INVALID_ARGUMENT),
        (InvalidDagError, grpc.StatusCode.INVALID_ARGUMENT),
        (SerializationError, grpc.StatusCode.INVALID_ARGUMENT),
        (CallTimeoutError, grpc.StatusCode.DEADLINE_EXCEEDED),
        (NoResourcesError, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (UnavailableError, grpc.StatusCode.UNAVAILABLE),
        (ExecutorDiedError, grpc.StatusCode.ABORTED),
        (FunctionQuarantinedError, grpc.StatusCode.FAILED_PRECONDITION),
        (CallCancelledError, grpc.StatusCode.CANCELLED),
        (CloudburstError, grpc.StatusCode.INTERNAL),
    ],
    ids=lambda v: getattr(v, "__name__", None) or getattr(v, "name", str(v)),
)
def test_status_for(cls: type[CloudburstError], status: grpc.StatusCode) -> None:
    """Each error class maps to its documented gRPC status."""
    assert status_for(cls("m")) is status


def test_status_for_remote_function_error_is_internal() -> None:
    """A user function's error maps to INTERNAL."""
    assert status_for(RemoteFunctionError("ValueError", "x")) is grpc.StatusCode.INTERNAL


def test_readme_names_every_error_a_user_can_see() -> None:
    """The README's list of errors names every typed error the SDK, the cluster launcher and
    so cbctl can raise (a user who meets one can look it up)."""
    import pathlib

    import cloudburst_management.local

    readme = (pathlib.Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Errors", 1)[1].split("\n## ", 1)[0]
    classes = [
        obj
        for module in (errors, cloudburst_management.local)
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, CloudburstError) and obj.__module__ == module.__name__
    ]
    missing = sorted(c.__name__ for c in classes if f"`{c.__name__}`" not in section)
    assert not missing, f"README's error list does not name {missing}"
