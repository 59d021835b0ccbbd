"""The embedded store's data directory when the disk says no: a real, small tmpfs mounted
for the test (the tests run as root; without the right to mount they skip, and fail when
CI=true), a real authority gRPC server over it."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import grpc.aio
import pytest
from cloudburst import CloudburstConnection
from cloudburst_cache.backends.memory import MemoryBackend
from cloudburst_cache.persistence import DataDirError, DiskLog
from cloudburst_cache.server import CacheServer
from cloudburst_cache.settings import CacheSettings
from cloudburst_lattices import LWW, encode
from cloudburst_protocol.auth import service_credentials
from cloudburst_protocol.channels import aio_channel
from cloudburst_protocol.errors import UnavailableError
from cloudburst_protocol.gen import cache_pb2, cache_pb2_grpc, common_pb2
from conftest import free_port, start_cluster


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs of this test's own, unmounted afterwards."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = _run("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount))
    if done.returncode != 0:
        reason = f"cannot mount a tmpfs: {done.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield mount
    finally:
        _run("umount", "-l", str(mount))


def authority(data_dir: Path) -> CacheServer:
    settings = CacheSettings(
        role="authority",
        host="127.0.0.1",
        port=free_port(),
        socket_path="",
        authority_address="",
        scheduler_address=f"127.0.0.1:{free_port()}",
        node_id="",
        max_bytes=1 << 20,
        data_dir=str(data_dir),
        fsync="always",
    )
    return CacheServer(settings)


def test_a_full_disk_fails_the_write_with_the_directory_named(tmp_path: Path, tmpfs: Path) -> None:
    """Writes through the authority until the tmpfs is full: the write that does not fit
    fails with UNAVAILABLE naming the data directory; the authority keeps serving, and after
    a restart every acknowledged write is there, byte-identical."""
    data = tmpfs / "data"
    acked: dict[str, bytes] = {}

    async def fill() -> str:
        async with authority(data) as server:
            channel = aio_channel(f"127.0.0.1:{server.port}", service_credentials())
            stub = cache_pb2_grpc.CacheStub(channel)
            try:
                for i in range(2000):  # 2 MiB / 8 KiB values: full well before the end
                    lattice = encode(LWW(1, os.urandom(8192)))
                    key = f"k{i}"
                    try:
                        await stub.Put(
                            cache_pb2.CachePutRequest(
                                entries=[cache_pb2.KeyLattice(key=key, lattice=lattice)]
                            ),
                            timeout=10,
                        )
                    except grpc.aio.AioRpcError as exc:
                        assert exc.code() == grpc.StatusCode.UNAVAILABLE
                        reply = await stub.Stats(common_pb2.Empty(), timeout=10)
                        assert reply.role == "authority"  # still serving
                        return exc.details() or ""
                    acked[key] = lattice
            finally:
                await channel.close()
        raise AssertionError("the 2 MiB disk never filled up")

    message = asyncio.run(fill())
    assert str(data) in message
    assert "full" in message
    assert len(acked) > 10

    async def reread() -> None:
        backend = MemoryBackend(disk=DiskLog(data, "always"))
        await backend.start()
        try:
            got = await backend.get(list(acked))
            assert [v.encoded if v else None for v in got] == list(acked.values())
        finally:
            await backend.close()

    asyncio.run(reread())


def test_a_read_only_data_directory_is_refused_at_start(tmpfs: Path) -> None:
    """A directory the storage cannot write (here: a read-only mount) stops the start with
    DataDirError naming it, before anything is acknowledged."""
    (tmpfs / "data").mkdir()
    remount = _run("mount", "-o", "remount,ro", str(tmpfs))
    assert remount.returncode == 0, remount.stderr
    for directory in (tmpfs / "data", tmpfs / "missing"):
        with pytest.raises(DataDirError, match=str(directory)):
            DiskLog(directory, "always").open()


@pytest.mark.e2e
def test_a_client_is_told_the_disk_is_full(tmp_path: Path, tmpfs: Path) -> None:
    """Through a whole local cluster: put_object on a storage whose data directory is full
    raises UnavailableError naming the directory; what was acknowledged reads back."""
    data = tmpfs / "data"
    cluster = start_cluster(tmp_path / "home", executors=1, CLOUDBURST_DATA_DIR=str(data))
    acked: dict[str, bytes] = {}
    try:
        with CloudburstConnection(cluster.scheduler_address, timeout=20) as cloud:
            with pytest.raises(UnavailableError) as info:
                for i in range(2000):
                    value = os.urandom(8192)
                    cloud.put_object(f"k{i}", value)
                    acked[f"k{i}"] = value
            assert str(data) in str(info.value)
            assert acked and all(cloud.get_object(k) == v for k, v in acked.items())
    finally:
        cluster.down()
