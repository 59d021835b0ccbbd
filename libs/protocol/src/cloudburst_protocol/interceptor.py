"""The one server interceptor every service runs: credentials, malformed requests, errors.

For every method, unary or streaming, :class:`ServiceInterceptor`

1. checks the caller's credentials against the server's :class:`AuthPolicy` once per RPC
   (a stream is checked when it opens): ``UNAUTHENTICATED`` without a known token,
   ``PERMISSION_DENIED`` when the token's role is too low — the handler never runs;
2. answers a request body that does not decode with ``INVALID_ARGUMENT`` (for streams, the
   first message that does not decode ends the stream so);
3. turns a :class:`CloudburstError` raised by the handler (or a failed call it made to
   another service) into a gRPC status carrying the error's wire code.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import grpc.aio

from cloudburst_protocol.auth import AuthPolicy, Denied, Role, required_role
from cloudburst_protocol.errors import (
    AuthenticationError,
    CloudburstError,
    InvalidArgumentError,
    PermissionDeniedError,
)
from cloudburst_protocol.grpc_errors import ERROR_CODE_KEY, error_from_rpc, status_for


class _Malformed:
    """What the lenient deserializer returns for bytes that do not decode."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _lenient(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def decode(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:  # any decode failure is the caller's fault
            return _Malformed(f"{type(exc).__name__}: {exc}"[:300])

    return decode


async def _abort(context: grpc.aio.ServicerContext, error: CloudburstError) -> None:
    await context.abort(
        status_for(error), str(error), trailing_metadata=((ERROR_CODE_KEY, str(error.code)),)
    )


def _malformed_error(method: str, malformed: _Malformed) -> InvalidArgumentError:
    return InvalidArgumentError(f"{method}: the request body does not decode ({malformed.reason})")


class _Guard:
    """Refuses the first message of a request stream that does not decode, wherever the
    stream is read: the read raises (ending a reader task the handler started, and with it
    the handler's stream), and the RPC ends with the error once the handler returns."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.error: InvalidArgumentError | None = None

    def refuse(self, malformed: _Malformed) -> InvalidArgumentError:
        self.error = _malformed_error(self.method, malformed)
        return self.error


class _CheckedContext:
    """A servicer context whose ``read()`` refuses a message that does not decode."""

    def __init__(self, context: grpc.aio.ServicerContext, guard: _Guard) -> None:
        self._context = context
        self._guard = guard

    async def read(self) -> Any:
        message = await self._context.read()
        if isinstance(message, _Malformed):
            raise self._guard.refuse(message)
        return message

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


async def _checked(requests: AsyncIterator[Any], guard: _Guard) -> AsyncIterator[Any]:
    async for message in requests:
        if isinstance(message, _Malformed):
            raise guard.refuse(message)
        yield message


def _as_error(exc: BaseException) -> CloudburstError | None:
    if isinstance(exc, CloudburstError):
        return exc
    if isinstance(exc, grpc.aio.AioRpcError):
        # A call the handler made to another service failed: pass its typed error on.
        return error_from_rpc(exc)
    return None


def _wrap(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    """``handler`` with malformed requests refused and typed errors turned into statuses."""
    streaming_in = handler.request_streaming
    inner: Any = (
        handler.unary_unary or handler.unary_stream or handler.stream_unary or handler.stream_stream
    )

    def arguments(request: Any, context: Any, guard: _Guard) -> tuple[Any, Any]:
        if isinstance(request, _Malformed):
            raise guard.refuse(request)
        if streaming_in:
            return _checked(request, guard), _CheckedContext(context, guard)
        return request, context

    async def fail(exc: BaseException, context: grpc.aio.ServicerContext, guard: _Guard) -> None:
        error = guard.error or _as_error(exc)
        if error is None:
            raise exc
        await _abort(context, error)

    if inspect.isasyncgenfunction(inner):

        async def generate(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            guard = _Guard(method)
            try:
                async for reply in inner(*arguments(request, context, guard)):
                    yield reply
            except (CloudburstError, grpc.aio.AioRpcError) as exc:
                await fail(exc, context, guard)
            if guard.error is not None:
                await _abort(context, guard.error)

        wrapped: Any = generate
    else:

        async def respond(request: Any, context: grpc.aio.ServicerContext) -> Any:
            guard = _Guard(method)
            try:
                reply = await inner(*arguments(request, context, guard))
            except (CloudburstError, grpc.aio.AioRpcError) as exc:
                await fail(exc, context, guard)
            if guard.error is not None:
                await _abort(context, guard.error)
            return reply

        wrapped = respond

    return _handler_like(handler, wrapped, _lenient(handler.request_deserializer))


def _handler_like(
    handler: grpc.RpcMethodHandler, behaviour: Any, deserializer: Any
) -> grpc.RpcMethodHandler:
    serializer = handler.response_serializer
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(behaviour, deserializer, serializer)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(behaviour, deserializer, serializer)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(behaviour, deserializer, serializer)
    return grpc.stream_stream_rpc_method_handler(behaviour, deserializer, serializer)


def _refusal(handler: grpc.RpcMethodHandler, error: CloudburstError) -> grpc.RpcMethodHandler:
    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> None:
        await _abort(context, error)

    return _handler_like(handler, refuse, lambda data: None)


class ServiceInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc is untyped
    """Credentials, malformed bodies and typed errors for every method of a server."""

    def __init__(self, policy: AuthPolicy, service: str = "") -> None:
        self._policy = policy
        self._service = service or "this service"

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return None
        method: str = details.method
        needed = required_role(method)
        if needed is None:
            return handler  # the health check: open, and nothing of ours to wrap
        denied = self._policy.check_role(needed, details.invocation_metadata)
        if denied is Denied.UNAUTHENTICATED:
            return _refusal(
                handler,
                AuthenticationError(
                    f"{self._service} refused {method}: no valid token (send "
                    "'authorization: Bearer <token>')"
                ),
            )
        if denied is Denied.PERMISSION_DENIED:
            needs = (
                "an admin token"
                if needed is Role.ADMIN
                else "the cluster's secret (only the cluster's own services may call it)"
            )
            return _refusal(
                handler,
                PermissionDeniedError(f"{self._service} refused {method}: it needs {needs}"),
            )
        return _wrap(handler, method)


__all__ = ["ServiceInterceptor"]
