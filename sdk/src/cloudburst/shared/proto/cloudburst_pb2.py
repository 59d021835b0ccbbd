"""Compatibility module: the enum values programs import from
``cloudburst.shared.proto.cloudburst_pb2``, backed by our own protocol's enums.

``CloudburstError`` here is the error-code enum (``CloudburstError.Name(code)`` works); the
exception root is :class:`cloudburst.CloudburstError`.
"""

from cloudburst_protocol.gen.common_pb2 import (
    DAG_ALREADY_EXISTS,
    DAG_NOT_FOUND,
    EXECUTION_ERROR,
    EXECUTOR_DIED,
    FUNC_NOT_FOUND,
    INTERNAL,
    INVALID_ARGUMENT,
    INVALID_DAG,
    KEY_NOT_FOUND,
    MULTI,
    NO_ERROR,
    NO_RESOURCES,
    NORMAL,
    REPEATABLE_READ,
    SERIALIZATION_ERROR,
    SINGLE,
    TIMEOUT,
    UNAVAILABLE,
    Consistency,
    ErrorCode,
)

CloudburstError = ErrorCode
ConsistencyType = Consistency

__all__ = [
    "DAG_ALREADY_EXISTS",
    "DAG_NOT_FOUND",
    "EXECUTION_ERROR",
    "EXECUTOR_DIED",
    "FUNC_NOT_FOUND",
    "INTERNAL",
    "INVALID_ARGUMENT",
    "INVALID_DAG",
    "KEY_NOT_FOUND",
    "MULTI",
    "NORMAL",
    "NO_ERROR",
    "NO_RESOURCES",
    "REPEATABLE_READ",
    "SERIALIZATION_ERROR",
    "SINGLE",
    "TIMEOUT",
    "UNAVAILABLE",
    "CloudburstError",
    "ConsistencyType",
]
