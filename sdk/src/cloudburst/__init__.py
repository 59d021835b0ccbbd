"""Cloudburst: low-latency, stateful functions-as-a-service for Python.

::

    from cloudburst import Client

    with Client("127.0.0.1") as cloud:
        square = cloud.register(lambda _, x: x * x, "square")
        assert square(3).get() == 9

The seed-compatible path ``from cloudburst.client.client import CloudburstConnection`` is the
same client.
"""

from cloudburst_protocol.errors import (
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
    RequestTooLargeError,
    SerializationError,
    SnapshotExpiredError,
    StaleLeaseError,
    UnavailableError,
)
from cloudburst_protocol.gen.common_pb2 import MULTI, NORMAL, REPEATABLE_READ, SINGLE
from cloudburst_protocol.values import Counter, Max, Priority

from cloudburst._connection import CloudburstConnection, CloudburstFunction, DagRegistration
from cloudburst._future import CloudburstFuture
from cloudburst.shared.reference import CloudburstReference

Client = CloudburstConnection
"""The client under its short name."""

__all__ = [
    "MULTI",
    "NORMAL",
    "REPEATABLE_READ",
    "SINGLE",
    "AuthenticationError",
    "CallCancelledError",
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
    "InvalidArgumentError",
    "InvalidDagError",
    "KeyNotFoundError",
    "Max",
    "NoResourcesError",
    "PermissionDeniedError",
    "Priority",
    "RemoteFunctionError",
    "RequestTooLargeError",
    "SerializationError",
    "SnapshotExpiredError",
    "StaleLeaseError",
    "UnavailableError",
]
