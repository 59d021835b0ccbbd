"""Cloudburst cache service: a lattice store served over gRPC."""

from cloudburst_cache.settings import CacheSettings
from cloudburst_cache.store import LatticeStore

__all__ = ["CacheSettings", "LatticeStore"]
