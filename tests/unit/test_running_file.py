"""The running file (cloudburst_protocol.running): what a process was running survives its
death by kill -9, and is read once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from cloudburst_protocol.running import RunningFile, read_running

CHILD = """
import os, signal, sys
from pathlib import Path
from cloudburst_protocol.running import RunningFile
running = RunningFile(Path(sys.argv[1]))
running.record("first", "c0")
running.clear()
running.record("crashy", "c1")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_record_survives_kill_9_and_is_read_once(tmp_path: Path) -> None:
    path = tmp_path / "run" / "executor.running"
    done = subprocess.run([sys.executable, "-c", CHILD, str(path)], check=False, timeout=60)
    assert done.returncode == -signal.SIGKILL
    assert read_running(path) == ("crashy", "c1")
    assert read_running(path) is None


def test_a_cleared_record_attributes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.running"
    running = RunningFile(path)
    running.record("f" * 1000, "id")  # longer than the file: cut, never an error
    running.clear()
    assert read_running(path) is None
    running.record("g", "id2")
    assert read_running(path) == ("g", "id2")
    running.close()


def test_no_path_means_no_file(tmp_path: Path) -> None:
    running = RunningFile(None)
    running.record("f", "c")
    running.clear()
    assert read_running(tmp_path / "missing") is None
    assert not os.listdir(tmp_path)
