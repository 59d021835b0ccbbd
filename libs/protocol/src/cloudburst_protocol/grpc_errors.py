"""Errors across gRPC: one server interceptor, one client-side table.

Servers raise :class:`CloudburstError` subclasses from handlers; the service interceptor
(:mod:`.interceptor`) turns each into a gRPC status carrying the error code in trailing
metadata. Clients call :func:`error_from_rpc` to get the same typed error back.
"""

from __future__ import annotations

from typing import Any

import grpc
import grpc.aio

from cloudburst_protocol import config
from cloudburst_protocol.errors import (
    AuthenticationError,
    CallTimeoutError,
    CloudburstError,
    PermissionDeniedError,
    RequestTooLargeError,
    UnavailableError,
    error_for_code,
)
from cloudburst_protocol.gen import common_pb2

ERROR_CODE_KEY = "cb-error-code"

_STATUS_FOR_CODE: dict[int, grpc.StatusCode] = {
    common_pb2.FUNC_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    common_pb2.DAG_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    common_pb2.KEY_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    common_pb2.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    common_pb2.INVALID_DAG: grpc.StatusCode.INVALID_ARGUMENT,
    common_pb2.SERIALIZATION_ERROR: grpc.StatusCode.INVALID_ARGUMENT,
    common_pb2.TIMEOUT: grpc.StatusCode.DEADLINE_EXCEEDED,
    common_pb2.NO_RESOURCES: grpc.StatusCode.RESOURCE_EXHAUSTED,
    common_pb2.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    common_pb2.EXECUTOR_DIED: grpc.StatusCode.ABORTED,
    common_pb2.SNAPSHOT_EXPIRED: grpc.StatusCode.FAILED_PRECONDITION,
    common_pb2.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    common_pb2.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    common_pb2.FUNCTION_IN_USE: grpc.StatusCode.FAILED_PRECONDITION,
    common_pb2.FUNCTION_QUARANTINED: grpc.StatusCode.FAILED_PRECONDITION,
    common_pb2.CALL_CANCELLED: grpc.StatusCode.CANCELLED,
}


def status_for(error: CloudburstError) -> grpc.StatusCode:
    return _STATUS_FOR_CODE.get(error.code, grpc.StatusCode.INTERNAL)


def error_from_rpc(exc: grpc.RpcError, target: str = "") -> CloudburstError:
    """The typed error for a failed RPC."""
    call: Any = exc
    code = call.code() if hasattr(call, "code") else None
    details = (call.details() if hasattr(call, "details") else "") or ""
    metadata = call.trailing_metadata() if hasattr(call, "trailing_metadata") else None
    for key, value in metadata or ():
        if key == ERROR_CODE_KEY:
            return error_for_code(int(value), details)
    where = f" at {target}" if target else ""
    return _error_for_status(code, details, where)


def _error_for_status(  # noqa: PLR0911  # one branch per status
    code: Any, details: str, where: str
) -> CloudburstError:
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return CallTimeoutError(f"deadline exceeded waiting for the service{where}")
    if code == grpc.StatusCode.UNAVAILABLE:
        return UnavailableError(f"service unavailable{where}: {details}")
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return AuthenticationError(f"the service{where} refused the credentials: {details}")
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return PermissionDeniedError(f"the service{where} refused the call: {details}")
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in details:
        return RequestTooLargeError(
            f"a message{where} is over the size limit ({details}); the limit is set by "
            f"{config.MAX_MESSAGE_ENV} on the cluster and the client"
        )
    if code == grpc.StatusCode.CANCELLED:
        return CloudburstError(f"call cancelled{where}: {details}")
    return CloudburstError(f"{code.name if code else 'UNKNOWN'}{where}: {details}")


__all__ = ["ERROR_CODE_KEY", "error_from_rpc", "status_for"]
