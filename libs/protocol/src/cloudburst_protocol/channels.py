"""Channels to other services, carrying this process's credentials (and TLS when set).

Every channel a service or client opens comes from :func:`aio_channel` or
:func:`sync_channel`: a client interceptor adds the ``authorization`` metadata to each call
(a stream carries it once, when it opens), and when ``CLOUDBURST_TLS_CA`` is set the channel
is TLS, presenting ``CLOUDBURST_TLS_CERT``/``CLOUDBURST_TLS_KEY`` if given (mutual TLS).
Unix-socket channels (a node's cache) stay plaintext: they never leave the machine, and the
socket's directory is private to the cluster's user.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import grpc
import grpc.aio

from cloudburst_protocol import config
from cloudburst_protocol.auth import Credentials
from cloudburst_protocol.errors import InvalidArgumentError

ChannelOptions = Sequence[tuple[str, Any]]


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM bytes of this process's certificate, key and the CA it trusts (each optional)."""

    cert: bytes | None
    key: bytes | None
    ca: bytes | None

    @classmethod
    def from_env(cls) -> TlsFiles:
        def read(name: str) -> bytes | None:
            raw = config.env_str(name, "")
            if not raw:
                return None
            try:
                return Path(raw).expanduser().read_bytes()
            except OSError as exc:
                raise InvalidArgumentError(f"{name}: cannot read {raw}: {exc.strerror}") from None

        files = cls(read(config.TLS_CERT_ENV), read(config.TLS_KEY_ENV), read(config.TLS_CA_ENV))
        if (files.cert is None) != (files.key is None):
            raise InvalidArgumentError(
                f"{config.TLS_CERT_ENV} and {config.TLS_KEY_ENV} go together: set both or neither"
            )
        return files

    @property
    def client_enabled(self) -> bool:
        return self.ca is not None

    @property
    def server_enabled(self) -> bool:
        return self.cert is not None

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.cert
        )

    def server_credentials(self) -> grpc.ServerCredentials:
        assert self.cert is not None and self.key is not None
        return grpc.ssl_server_credentials(
            [(self.key, self.cert)],
            root_certificates=self.ca,
            require_client_auth=self.ca is not None,
        )


class _Details(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


class _SyncDetails(_Details, grpc.ClientCallDetails):  # type: ignore[misc]  # grpc is untyped
    pass


def _with_metadata(existing: Any, extra: tuple[tuple[str, str], ...]) -> list[tuple[str, Any]]:
    return [*(existing or ()), *extra]


class _SyncAuth(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]  # grpc is untyped
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[misc]
    grpc.StreamStreamClientInterceptor,  # type: ignore[misc]
):
    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._metadata = metadata

    def _details(self, details: Any) -> _SyncDetails:
        return _SyncDetails(
            details.method,
            details.timeout,
            _with_metadata(details.metadata, self._metadata),
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(
        self, continuation: Callable[..., Any], details: Any, requests: Any
    ) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(
        self, continuation: Callable[..., Any], details: Any, requests: Any
    ) -> Any:
        return continuation(self._details(details), requests)


def _aio_details(details: Any, metadata: tuple[tuple[str, str], ...]) -> grpc.aio.ClientCallDetails:
    return grpc.aio.ClientCallDetails(
        details.method,
        details.timeout,
        grpc.aio.Metadata(*_with_metadata(details.metadata, metadata)),
        details.credentials,
        details.wait_for_ready,
    )


class _AioAuth:
    """Adds the credentials' metadata to a call of an asyncio channel. grpc.aio files each
    interceptor under one kind of call only, so there is one subclass per kind."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._metadata = metadata

    async def _go(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return await continuation(_aio_details(details, self._metadata), request)


class _AioUnaryUnary(_AioAuth, grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await self._go(continuation, details, request)


class _AioUnaryStream(_AioAuth, grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await self._go(continuation, details, request)


class _AioStreamUnary(_AioAuth, grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await self._go(continuation, details, request)


class _AioStreamStream(_AioAuth, grpc.aio.StreamStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await self._go(continuation, details, request)


_AIO_KINDS = (_AioUnaryUnary, _AioUnaryStream, _AioStreamUnary, _AioStreamStream)


def _tls_for(address: str, tls: TlsFiles | None) -> TlsFiles | None:
    if address.startswith("unix:"):
        return None
    files = tls if tls is not None else TlsFiles.from_env()
    return files if files.client_enabled else None


def sync_channel(
    address: str,
    credentials: Credentials,
    options: ChannelOptions | None = None,
    tls: TlsFiles | None = None,
) -> grpc.Channel:
    """A synchronous channel to ``address`` presenting ``credentials`` on every call."""
    options = config.channel_options() if options is None else options
    files = _tls_for(address, tls)
    if files is not None:
        channel = grpc.secure_channel(address, files.channel_credentials(), options=options)
    else:
        channel = grpc.insecure_channel(address, options=options)
    metadata = credentials.metadata()
    if not metadata:
        return channel
    return grpc.intercept_channel(channel, _SyncAuth(metadata))


def aio_channel(
    address: str,
    credentials: Credentials,
    options: ChannelOptions | None = None,
    tls: TlsFiles | None = None,
) -> grpc.aio.Channel:
    """An asyncio channel to ``address`` presenting ``credentials`` on every call."""
    options = config.channel_options() if options is None else options
    metadata = credentials.metadata()
    interceptors = [kind(metadata) for kind in _AIO_KINDS] if metadata else None
    files = _tls_for(address, tls)
    if files is not None:
        return grpc.aio.secure_channel(
            address, files.channel_credentials(), options=options, interceptors=interceptors
        )
    return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)


__all__ = ["TlsFiles", "aio_channel", "sync_channel"]
