"""``cloudburst-executor``: run an executor."""

from __future__ import annotations

import asyncio
import os

from cloudburst_protocol import config
from cloudburst_protocol.runtime import configure_service

from cloudburst_executor.server import serve
from cloudburst_executor.settings import ExecutorSettings


def main() -> None:
    configure_service("executor", os.environ.get(config.INSTANCE_ENV, "executor"))
    asyncio.run(serve(ExecutorSettings.from_env()))


if __name__ == "__main__":
    main()
