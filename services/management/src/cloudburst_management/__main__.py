"""``cloudburst-management``: run the management service (local process supervisor)."""

from __future__ import annotations

import asyncio

from cloudburst_protocol.runtime import configure_logging

from cloudburst_management.server import serve
from cloudburst_management.settings import ManagementSettings


def main() -> None:
    configure_logging("management")
    raise SystemExit(asyncio.run(serve(ManagementSettings.from_env())))


if __name__ == "__main__":
    main()
