"""``cloudburst-cache``: run the cache service."""

from __future__ import annotations

import asyncio

from cloudburst_protocol.runtime import configure_service

from cloudburst_cache.server import serve
from cloudburst_cache.settings import CacheSettings


def main() -> None:
    configure_service("cache")
    asyncio.run(serve(CacheSettings.from_env()))


if __name__ == "__main__":
    main()
