"""``cloudburst-scheduler``: run the scheduler service."""

from __future__ import annotations

import asyncio

from cloudburst_protocol.runtime import configure_logging

from cloudburst_scheduler.server import serve
from cloudburst_scheduler.settings import SchedulerSettings


def main() -> None:
    configure_logging("scheduler")
    asyncio.run(serve(SchedulerSettings.from_env()))


if __name__ == "__main__":
    main()
