"""Errors across gRPC: one server interceptor, one client-side table.

Servers raise :class:`CloudburstError` subclasses from handlers; :class:`ErrorInterceptor`
turns each into a gRPC status carrying the error code in trailing metadata. Clients call
:func:`raise_for_rpc_error` to get the same typed error back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import grpc.aio

from cloudburst_protocol.errors import (
    CallTimeoutError,
    CloudburstError,
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
    common_pb2.FUNCTION_QUARANTINED: grpc.StatusCode.FAILED_PRECONDITION,
    common_pb2.CALL_CANCELLED: grpc.StatusCode.CANCELLED,
}


def status_for(error: CloudburstError) -> grpc.StatusCode:
    return _STATUS_FOR_CODE.get(error.code, grpc.StatusCode.INTERNAL)


Handler = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


def _wrap_unary(inner: Handler) -> Handler:
    async def handler(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await inner(request, context)
        except grpc.aio.AioRpcError as exc:
            # A call this handler made to another service failed: pass its typed error on.
            error = error_from_rpc(exc)
            await context.abort(
                status_for(error),
                str(error),
                trailing_metadata=((ERROR_CODE_KEY, str(error.code)),),
            )
        except CloudburstError as exc:
            await context.abort(
                status_for(exc),
                str(exc),
                trailing_metadata=((ERROR_CODE_KEY, str(exc.code)),),
            )

    return handler


class ErrorInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc is untyped
    """Turns a :class:`CloudburstError` raised by a unary handler into a gRPC status."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        return grpc.unary_unary_rpc_method_handler(
            _wrap_unary(handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


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
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return CallTimeoutError(f"deadline exceeded waiting for the service{where}")
    if code == grpc.StatusCode.UNAVAILABLE:
        return UnavailableError(f"service unavailable{where}: {details}")
    if code == grpc.StatusCode.CANCELLED:
        return CloudburstError(f"call cancelled{where}: {details}")
    return CloudburstError(f"{code.name if code else 'UNKNOWN'}{where}: {details}")


__all__ = ["ERROR_CODE_KEY", "ErrorInterceptor", "error_from_rpc", "status_for"]
