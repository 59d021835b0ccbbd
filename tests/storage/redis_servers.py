"""Real Redis servers for the storage tests: ``redis-server`` (the Debian package) started on
free loopback ports in temporary directories, one server and one 3-node Redis Cluster per
test session. Without ``redis-server`` the tests skip, and fail when ``CI=true`` (CI must run
them: ``make install`` installs the package)."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

START_TIMEOUT_S = 10.0


def free_port(cluster: bool = False) -> int:
    """A free loopback port; for a cluster node one whose bus port (+10000) is free too and
    below 65536, as Redis requires."""
    if not cluster:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 45000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
                return port
        except OSError:
            continue
    raise OSError("no free port pair for a Redis Cluster node")


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        message = f"{binary} is not installed (`make redis` installs Debian's redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def command(port: int, *args: str) -> bytes:
    """One command in RESP over a plain socket: the reply's raw bytes."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(b"".join(parts))
        reply = b""
        conn.settimeout(0.5)
        try:
            while chunk := conn.recv(65536):
                reply += chunk
                if reply.endswith(b"\r\n"):
                    break
        except TimeoutError:
            pass
        return reply


@dataclass
class RedisServer:
    """One ``redis-server`` process of ours."""

    port: int
    workdir: Path
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, workdir: Path, *extra: str) -> RedisServer:
        binary = require("redis-server")
        workdir.mkdir(parents=True, exist_ok=True)
        port = free_port(cluster="--cluster-enabled" in extra)
        log = (workdir / "redis.log").open("wb")
        process = subprocess.Popen(
            [
                binary,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--dir", str(workdir),
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--protected-mode", "no",
                *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )  # fmt: skip
        server = cls(port, workdir, process)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if command(port, "PING").startswith(b"+PONG"):
                    return server
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                log_text = (workdir / "redis.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"redis-server did not start on port {port}:\n{log_text}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_cluster(workdir: Path, nodes: int = 3) -> list[RedisServer]:
    """A Redis Cluster of ``nodes`` primaries (no replicas), every slot served."""
    options = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
    servers: list[RedisServer] = []
    try:
        for i in range(nodes):
            servers.append(RedisServer.start(workdir / f"node{i}", *options))
        created = subprocess.run(
            [
                require("redis-cli"),
                "--cluster", "create",
                *(f"127.0.0.1:{s.port}" for s in servers),
                "--cluster-replicas", "0",
                "--cluster-yes",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )  # fmt: skip
        if created.returncode != 0:
            pytest.fail(f"redis-cli --cluster create failed: {created.stdout!r} {created.stderr!r}")
        deadline = time.monotonic() + 30
        while not all(b"cluster_state:ok" in command(s.port, "CLUSTER", "INFO") for s in servers):
            if time.monotonic() > deadline:
                pytest.fail("the Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.05)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def unique_prefix() -> str:
    """A key prefix of its own, so tests sharing a server never see each other's keys."""
    return f"t{uuid.uuid4().hex[:10]}"


# Test modules import the fixtures below, which makes each module's copy a fixture of its
# own: the servers are kept here so that one session starts each of them once.
_started: dict[str, Any] = {}


@pytest.fixture(scope="session")
def redis_server(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> RedisServer:
    if "server" not in _started:
        server = RedisServer.start(tmp_path_factory.mktemp("redis"))
        pytestconfig.add_cleanup(server.stop)
        _started["server"] = server
    return cast(RedisServer, _started["server"])


@pytest.fixture(scope="session")
def redis_cluster(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> list[RedisServer]:
    if "cluster" not in _started:
        servers = start_cluster(tmp_path_factory.mktemp("redis-cluster"))
        for server in servers:
            pytestconfig.add_cleanup(server.stop)
        _started["cluster"] = servers
    return cast(list[RedisServer], _started["cluster"])
