"""Cloudburst wire protocol: generated messages and stubs (``cloudburst_protocol.gen``), the
value serializer, the error hierarchy and its gRPC mapping, and shared service plumbing."""

from cloudburst_protocol import serializer
from cloudburst_protocol.clock import HybridClock
from cloudburst_protocol.errors import (
    CallTimeoutError,
    CloudburstError,
    DagNotFoundError,
    ExecutorDiedError,
    FunctionNotFoundError,
    InvalidArgumentError,
    InvalidDagError,
    KeyNotFoundError,
    NoResourcesError,
    RemoteFunctionError,
    SerializationError,
    UnavailableError,
)

__all__ = [
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
