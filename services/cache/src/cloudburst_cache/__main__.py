"""``cloudburst-cache``: run the cache service."""

from __future__ import annotations

import asyncio
import sys

import structlog
from cloudburst_protocol.config import EXIT_CONFIG
from cloudburst_protocol.runtime import configure_service

from cloudburst_cache.persistence import DataDirError
from cloudburst_cache.server import serve
from cloudburst_cache.settings import CacheSettings


def main() -> None:
    configure_service("cache")
    try:
        asyncio.run(serve(CacheSettings.from_env()))
    except DataDirError as exc:
        # Restarting cannot help: say why once, and tell the supervisor not to retry.
        structlog.get_logger("cloudburst.cache").error("storage cannot start", reason=str(exc))
        sys.exit(EXIT_CONFIG)


if __name__ == "__main__":
    main()
