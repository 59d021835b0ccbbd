"""The client, at the import path programs written for the original client use."""

from cloudburst._connection import CloudburstConnection, CloudburstFunction
from cloudburst._future import CloudburstFuture

__all__ = ["CloudburstConnection", "CloudburstFunction", "CloudburstFuture"]
