"""``CloudburstFuture`` at its original import path."""

from cloudburst._future import CloudburstFuture

__all__ = ["CloudburstFuture"]
