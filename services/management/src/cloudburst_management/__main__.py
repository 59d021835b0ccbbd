"""``cloudburst-management``: run the management service — the local process supervisor, or
with ``CLOUDBURST_MANAGEMENT_MODE=observe`` an observer of a cluster run by another tool."""

from __future__ import annotations

import asyncio

from cloudburst_protocol.runtime import configure_logging

from cloudburst_management.observer import serve_observer
from cloudburst_management.server import serve
from cloudburst_management.settings import ManagementSettings


def main() -> None:
    configure_logging("management")
    settings = ManagementSettings.from_env()
    run = serve(settings) if settings.observe is None else serve_observer(settings)
    raise SystemExit(asyncio.run(run))


if __name__ == "__main__":
    main()
