"""``cloudburst-scheduler``: run the scheduler service."""

from __future__ import annotations

import asyncio
import os

from cloudburst_protocol import config
from cloudburst_protocol.runtime import configure_service

from cloudburst_scheduler.server import serve
from cloudburst_scheduler.settings import SchedulerSettings


def main() -> None:
    configure_service("scheduler", os.environ.get(config.INSTANCE_ENV, "scheduler"))
    asyncio.run(serve(SchedulerSettings.from_env()))


if __name__ == "__main__":
    main()
