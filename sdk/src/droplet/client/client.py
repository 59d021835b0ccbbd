"""``DropletConnection``: the project's earlier name for :class:`CloudburstConnection`."""

from cloudburst._connection import CloudburstConnection as DropletConnection
from cloudburst._future import CloudburstFuture as DropletFuture

__all__ = ["DropletConnection", "DropletFuture"]
