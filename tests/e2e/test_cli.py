"""cbctl up / status / logs / down, driven as a user would from a shell."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cloudburst import CloudburstConnection
from conftest import free_port, wait_for

pytestmark = pytest.mark.e2e

CBCTL = str(Path(sys.executable).parent / "cbctl")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return dict(
        os.environ,
        CLOUDBURST_HOME=str(tmp_path / "home"),
        CLOUDBURST_SCHEDULER_PORT=str(free_port()),
        CLOUDBURST_MANAGEMENT_PORT=str(free_port()),
        CLOUDBURST_CACHE_PORT=str(free_port()),
        COLUMNS="200",
    )


def cbctl(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CBCTL, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def status(env: dict[str, str]) -> dict[str, object]:
    done = cbctl(env, "status", "--json")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_up_status_logs_down(env: dict[str, str]) -> None:
    """up starts a ready cluster, is idempotent, status and logs show it, down stops every
    process it started."""
    try:
        first = cbctl(env, "up", "--executors", "1")
        assert first.returncode == 0, first.stderr
        assert "running" in first.stdout
        info = status(env)
        assert info["ready"] is True
        services = info["services"]
        assert isinstance(services, list)
        assert [s["name"] for s in services] == [
            "management",
            "storage",
            "scheduler",
            "node0-cache",
            "node0-executor0",
        ]
        assert all(s["state"] == "running" for s in services)
        pids = [s["pid"] for s in services]

        # Any cluster's management service can be asked directly (compose clusters).
        remote = json.loads(
            cbctl(
                {**env, "CLOUDBURST_HOME": "/nonexistent"},
                "status",
                "--json",
                "--management",
                f"127.0.0.1:{env['CLOUDBURST_MANAGEMENT_PORT']}",
            ).stdout
        )
        assert remote["ready"] is True
        assert [s["pid"] for s in remote["services"]] == pids
        nobody = cbctl(env, "status", "--management", "127.0.0.1:1")
        assert nobody.returncode == 1
        assert "no management service answers" in nobody.stdout

        again = cbctl(env, "up", "--executors", "1")
        assert again.returncode == 0
        assert "already running" in again.stdout
        assert [s["pid"] for s in status(env)["services"]] == pids  # type: ignore[union-attr]

        port = env["CLOUDBURST_SCHEDULER_PORT"]
        with CloudburstConnection(f" 127.0.0.1:{port} ") as cloud:
            assert cloud.register(lambda _, x: x * x, "square")(7).get() == 49
            # Through the scheduler (detached), so even the scheduler's span is written.
            detached = cloud.exec_func("square", [8], detach=True)
            assert detached.get(timeout=30) == 64
        wait_for(
            lambda: cbctl(env, "trace", detached.obj_id).returncode == 0,
            "the call's spans were written",
            timeout=10,
        )

        logs = cbctl(env, "logs", "scheduler", "-n", "200")
        assert logs.returncode == 0
        assert "scheduler serving" in logs.stdout
        unknown = cbctl(env, "logs", "nope")
        assert unknown.returncode == 1
        assert "Traceback" not in unknown.stderr
    finally:
        down = cbctl(env, "down")
    assert down.returncode == 0
    assert "cluster stopped" in down.stdout
    deadline = time.monotonic() + 5
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in pids)
    assert "no cluster is running" in cbctl(env, "down").stdout
    assert cbctl(env, "status").returncode == 1
    # Trace files belong to a cluster run: after down, --last shows no call of the old run,
    # while the old call can still be drawn by its id.
    last = cbctl(env, "trace", "--last")
    assert last.returncode == 1
    assert "no call of the running cluster" in last.stderr
    assert detached.obj_id in cbctl(env, "trace", detached.obj_id).stdout


def test_up_recovers_from_a_crashed_cluster(env: dict[str, str]) -> None:
    """After the management process and an executor are killed, up cleans up and starts
    a fresh cluster."""
    try:
        assert cbctl(env, "up", "--executors", "1").returncode == 0
        home = Path(env["CLOUDBURST_HOME"])
        state = json.loads((home / "cluster.json").read_text())
        old = [s["pid"] for s in status(env)["services"]]  # type: ignore[union-attr]
        os.kill(state["pid"], signal.SIGKILL)
        os.kill(old[-1], signal.SIGKILL)
        deadline = time.monotonic() + 5
        while cbctl(env, "status").returncode == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        recovered = cbctl(env, "up", "--executors", "1")
        assert recovered.returncode == 0, recovered.stderr
        info = status(env)
        assert info["ready"] is True
        assert not any(alive(p) for p in old)
    finally:
        cbctl(env, "down")


def test_up_reports_a_busy_port(env: dict[str, str]) -> None:
    """up fails with one clear line naming the port and its setting when a port is taken."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", int(env["CLOUDBURST_SCHEDULER_PORT"])))
        blocker.listen()
        done = cbctl(env, "up", "--executors", "1")
    assert done.returncode == 1
    assert env["CLOUDBURST_SCHEDULER_PORT"] in done.stderr
    assert "CLOUDBURST_SCHEDULER_PORT" in done.stderr
    assert "Traceback" not in done.stderr


def test_help_texts() -> None:
    """--help describes every command."""
    done = subprocess.run(
        [CBCTL, "--help"],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, COLUMNS="200"),
    )
    assert done.returncode == 0
    for command in ("up", "down", "status", "logs"):
        assert command in done.stdout
