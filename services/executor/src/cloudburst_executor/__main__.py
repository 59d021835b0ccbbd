"""``cloudburst-executor``: run an executor."""

from __future__ import annotations

import asyncio

from cloudburst_protocol.runtime import configure_logging

from cloudburst_executor.server import serve
from cloudburst_executor.settings import ExecutorSettings


def main() -> None:
    configure_logging("executor")
    asyncio.run(serve(ExecutorSettings.from_env()))


if __name__ == "__main__":
    main()
