"""Pins the public exports of the SDK and the protocol package, and the compat modules."""

from __future__ import annotations

import cloudburst
import cloudburst_protocol
import pytest


def test_cloudburst_all_is_pinned() -> None:
    """cloudburst.__all__ lists exactly the documented public names."""
    assert sorted(cloudburst.__all__) == sorted(
        [
            "MULTI",
            "NORMAL",
            "REPEATABLE_READ",
            "SINGLE",
            "AuthenticationError",
            "CallTimeoutError",
            "Client",
            "CloudburstConnection",
            "CloudburstError",
            "CloudburstFunction",
            "CloudburstFuture",
            "CloudburstReference",
            "Counter",
            "DagNotFoundError",
            "DagRegistration",
            "ExecutorDiedError",
            "FunctionInUseError",
            "FunctionNotFoundError",
            "FunctionQuarantinedError",
            "CallCancelledError",
            "InvalidArgumentError",
            "InvalidDagError",
            "KeyNotFoundError",
            "Max",
            "NoResourcesError",
            "PermissionDeniedError",
            "Priority",
            "SnapshotExpiredError",
            "RemoteFunctionError",
            "RequestTooLargeError",
            "SerializationError",
            "StaleLeaseError",
            "UnavailableError",
        ]
    )
    assert len(set(cloudburst.__all__)) == len(cloudburst.__all__)


def test_cloudburst_all_names_exist() -> None:
    """Every name in cloudburst.__all__ is an attribute of the package."""
    for name in cloudburst.__all__:
        assert hasattr(cloudburst, name), name


def test_cloudburst_protocol_all_is_pinned() -> None:
    """cloudburst_protocol.__all__ lists exactly the documented public names."""
    assert sorted(cloudburst_protocol.__all__) == sorted(
        [
            "CallTimeoutError",
            "CloudburstError",
            "DagNotFoundError",
            "ExecutorDiedError",
            "FunctionNotFoundError",
            "HybridClock",
            "InvalidArgumentError",
            "InvalidDagError",
            "KeyNotFoundError",
            "NoResourcesError",
            "RemoteFunctionError",
            "SerializationError",
            "UnavailableError",
            "serializer",
        ]
    )
    for name in cloudburst_protocol.__all__:
        assert hasattr(cloudburst_protocol, name), name


def test_sdk_errors_are_protocol_errors() -> None:
    """The SDK re-exports the protocol's error classes, not copies."""
    from cloudburst_protocol import errors

    for name in ("CloudburstError", "FunctionNotFoundError", "RemoteFunctionError"):
        assert getattr(cloudburst, name) is getattr(errors, name)


def test_client_alias() -> None:
    """cloudburst.Client is CloudburstConnection."""
    assert cloudburst.Client is cloudburst.CloudburstConnection


def test_seed_client_import_path() -> None:
    """The seed import path gives the same connection and future classes."""
    from cloudburst.client.client import CloudburstConnection, CloudburstFuture

    assert CloudburstConnection is cloudburst.CloudburstConnection
    assert CloudburstFuture is cloudburst.CloudburstFuture


def test_droplet_connection_is_cloudburst_connection() -> None:
    """`from droplet.client.client import DropletConnection` is CloudburstConnection."""
    from droplet.client.client import DropletConnection, DropletFuture

    assert DropletConnection is cloudburst.CloudburstConnection
    assert DropletFuture is cloudburst.CloudburstFuture


def test_compat_pb2_consistency_values() -> None:
    """The compat pb2 module exposes NORMAL, SINGLE, MULTI equal to the SDK's constants."""
    from cloudburst.shared.proto import cloudburst_pb2

    assert (cloudburst_pb2.NORMAL, cloudburst_pb2.SINGLE, cloudburst_pb2.MULTI) == (0, 1, 2)
    assert cloudburst_pb2.NORMAL == cloudburst.NORMAL
    assert cloudburst_pb2.SINGLE == cloudburst.SINGLE
    assert cloudburst_pb2.MULTI == cloudburst.MULTI
    assert cloudburst_pb2.ConsistencyType.Name(cloudburst_pb2.MULTI) == "MULTI"


@pytest.mark.parametrize(
    "name",
    [
        "DAG_ALREADY_EXISTS",
        "DAG_NOT_FOUND",
        "FUNC_NOT_FOUND",
        "EXECUTION_ERROR",
        "NO_ERROR",
        "KEY_NOT_FOUND",
        "TIMEOUT",
    ],
)
def test_compat_pb2_error_code_names(name: str) -> None:
    """CloudburstError.Name(code) in the compat pb2 module returns the code's name."""
    from cloudburst.shared.proto import cloudburst_pb2

    code = getattr(cloudburst_pb2, name)
    assert cloudburst_pb2.CloudburstError.Name(code) == name
    assert cloudburst_pb2.CloudburstError.Value(name) == code


def test_compat_pb2_dag_already_exists() -> None:
    """DAG_ALREADY_EXISTS is exported and named as itself."""
    from cloudburst.shared.proto.cloudburst_pb2 import DAG_ALREADY_EXISTS, CloudburstError

    assert CloudburstError.Name(DAG_ALREADY_EXISTS) == "DAG_ALREADY_EXISTS"


def test_compat_pb2_cloudburst_error_is_enum_not_exception() -> None:
    """In the compat module CloudburstError is the code enum, distinct from the exception."""
    from cloudburst.shared.proto import cloudburst_pb2
    from cloudburst_protocol.gen import common_pb2

    compat: object = cloudburst_pb2.CloudburstError
    assert compat is not cloudburst.CloudburstError
    assert compat is common_pb2.ErrorCode
    assert not isinstance(compat, type)
