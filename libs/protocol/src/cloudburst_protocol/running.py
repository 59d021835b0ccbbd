"""What an executor is running, where its supervisor can read it after the executor died.

The executor maps a small file (``CLOUDBURST_RUNNING_FILE``, set by the management for each
executor it starts) and writes the function and call id into the mapping before it runs user
code, and clears it after: a copy into shared memory, no system call, so it costs nothing a
call would notice. The pages belong to the file, so what was written survives a segfault or a
``kill -9``: the supervisor reads it when it sees the exit, and attributes the death.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from pathlib import Path

SIZE = 512


class RunningFile:
    """The executor's side. ``path=None`` (no supervisor asked for it): every method is a
    no-op."""

    def __init__(self, path: Path | None) -> None:
        self._map: mmap.mmap | None = None
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, SIZE)
            self._map = mmap.mmap(fd, SIZE)
        finally:
            os.close(fd)

    def record(self, function: str, call_id: str) -> None:
        m = self._map
        if m is None:
            return
        data = f"{function}\n{call_id}".encode(errors="replace")[: SIZE - 2]
        m[1 : len(data) + 1] = data
        m[len(data) + 1] = 0
        m[0] = 1  # written last: a reader sees a record only once it is complete

    def clear(self) -> None:
        if self._map is not None:
            self._map[0] = 0

    def close(self) -> None:
        if self._map is not None:
            with contextlib.suppress(ValueError, OSError):
                self._map.close()
            self._map = None


def read_running(path: Path) -> tuple[str, str] | None:
    """The supervisor's side: ``(function, call_id)`` of the call the executor was running,
    or ``None`` if it was running none; the record is cleared, so it is read once."""
    try:
        with path.open("r+b") as handle:
            raw = handle.read(SIZE)
            if not raw or raw[0] != 1:
                return None
            handle.seek(0)
            handle.write(b"\0")
    except OSError:
        return None
    body = raw[1:].split(b"\0", 1)[0].decode(errors="replace")
    function, _, call_id = body.partition("\n")
    return (function, call_id) if function else None


__all__ = ["RunningFile", "read_running"]
