"""The embedded store keeps what it acknowledged: real local clusters, real `kill -9` of the
storage process (the management service restarts it), real files under the cluster's home."""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cloudburst import CloudburstConnection
from cloudburst_cache.persistence import DB_FILE, DiskLog
from cloudburst_lattices import LWW, encode
from cloudburst_management import ClusterStartError, LocalCluster
from cloudburst_protocol.auth import service_credentials
from cloudburst_protocol.channels import sync_channel
from cloudburst_protocol.errors import CloudburstError, FunctionNotFoundError, UnavailableError
from cloudburst_protocol.gen import cache_pb2, cache_pb2_grpc
from conftest import kill_and_await_restart, start_cluster, wait_for

pytestmark = pytest.mark.e2e
T = TypeVar("T")

WRITERS = 4
KILLS = 3


def eventually(action: Callable[[], T], timeout: float = 60) -> T:
    """``action()`` once it stops failing with a Cloudburst error (the storage is coming
    back), within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return action()
        except CloudburstError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class Writers:
    """Client threads writing fresh keys with random values; each remembers what was
    acknowledged."""

    def __init__(self, address: str, count: int) -> None:
        self.address = address
        self.acked: dict[str, bytes] = {}
        self.failed = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self.run, args=(n,), daemon=True) for n in range(count)
        ]

    def run(self, writer: int) -> None:
        with CloudburstConnection(self.address, timeout=15) as cloud:
            i = 0
            while not self.stop.is_set():
                key, value = f"w{writer}-{i}", os.urandom(48)
                i += 1
                try:
                    cloud.put_object(key, value)
                except CloudburstError:
                    with self.lock:
                        self.failed += 1
                    continue
                with self.lock:
                    self.acked[key] = value

    def count(self) -> int:
        with self.lock:
            return len(self.acked)

    def wait_for(self, count: int, timeout: float = 60) -> None:
        wait_for(
            lambda: self.count() >= count, f"{count} acknowledged writes", timeout, interval=0.02
        )

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


@pytest.mark.parametrize("mode", ["always", "everysec"])
def test_no_acknowledged_write_is_lost_when_the_storage_is_killed(
    tmp_path: Path, mode: str
) -> None:
    """Several clients write; the storage process is killed -9 at random moments, three
    times; every write acknowledged before a kill reads back byte-identical (lost = 0)."""
    cluster = start_cluster(tmp_path, executors=1, CLOUDBURST_FSYNC=mode)
    rng = random.Random()
    try:
        with Writers(cluster.scheduler_address, WRITERS) as writers:
            for _ in range(KILLS):
                writers.wait_for(writers.count() + rng.randint(30, 200))
                kill_and_await_restart(cluster, "storage")
            writers.wait_for(writers.count() + 50)  # writes resumed after the last restart
        acked = dict(writers.acked)
        with CloudburstConnection(cluster.scheduler_address, timeout=15) as cloud:
            lost = [k for k, v in acked.items() if eventually(lambda k=k: cloud.get(k)) != v]
        assert len(acked) > KILLS * 30
        assert lost == [], f"{len(lost)} of {len(acked)} acknowledged writes lost"
        data = tmp_path / "data"
        assert (data / "store.sqlite3").exists()
    finally:
        cluster.down()


class Counter:
    """A class registered as (Cls, init_args): its instance lives in an executor."""

    def __init__(self, start: int) -> None:
        self.total = start

    def run(self, x: int) -> int:
        self.total += x
        return self.total


@pytest.fixture(scope="module")
def restartable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = start_cluster(tmp_path_factory.mktemp("restartable"), executors=2)
    yield cluster
    cluster.down()


def test_registry_survives_a_storage_restart(restartable: LocalCluster, name: str) -> None:
    """Functions, classes and DAGs registered before a kill -9 of the storage are listed and
    run after it, without registering again — also once the executors restarted too (no
    StaleLeaseError that never clears), and values put before are read back."""
    sq, incr, dag, cls = f"{name}-sq", f"{name}-incr", f"{name}-dag", f"{name}-cls"
    with CloudburstConnection(restartable.scheduler_address, timeout=20) as cloud:
        cloud.register(lambda _, x: x * x, sq)
        cloud.register(lambda _, x: x + 1, incr)
        cloud.register((Counter, (10,)), cls)
        cloud.register_dag(dag, [incr, sq], [(incr, sq)])
        cloud.put_object(f"{name}-key", b"kept")
        assert cloud.exec_func(sq, [3]).get() == 9
        before = (cloud.list(name), cloud.list_dags(name))
        assert before == (sorted([sq, incr, cls]), [dag])

        kill_and_await_restart(restartable, "storage")
        assert eventually(lambda: (cloud.list(name), cloud.list_dags(name))) == before
        assert eventually(lambda: cloud.exec_func(sq, [4]).get()) == 16
        assert cloud.call_dag(dag, {incr: 1}).get() == 4
        assert cloud.exec_func(cls, [1]).get() >= 11
        assert cloud.get_object(f"{name}-key") == b"kept"

        info = restartable.status()
        assert info is not None
        for executor in [s.name for s in info.services if s.kind == "executor"]:
            kill_and_await_restart(restartable, executor)
        results: list[Any] = [
            eventually(lambda i=i: cloud.exec_func(sq, [i]).get()) for i in range(5)
        ]
        assert results == [0, 1, 4, 9, 16]
        assert cloud.call_dag(dag, {incr: 2}).get() == 9
        assert cloud.exec_func(cls, [1]).get() == 11  # a fresh instance in a new executor
    with CloudburstConnection(restartable.scheduler_address, timeout=20) as fresh:
        assert fresh.exec_func(sq, [5]).get() == 25


def test_a_storage_that_lost_the_registry_gives_a_clear_error_not_stale_leases(
    tmp_path: Path, name: str
) -> None:
    """With CLOUDBURST_FSYNC=off a storage restart forgets the registry (as documented):
    once the executors restarted too, a call says the function is not registered (not a
    StaleLeaseError forever), and registering it again makes it run."""
    cluster = start_cluster(tmp_path, executors=1, CLOUDBURST_FSYNC="off")
    try:
        with CloudburstConnection(cluster.scheduler_address, timeout=20) as cloud:
            cloud.register(lambda _, x: x * x, name)
            assert cloud.exec_func(name, [2]).get() == 4
            kill_and_await_restart(cluster, "storage")
            kill_and_await_restart(cluster, "node0-executor0")

            def call() -> Any:
                try:
                    return cloud.exec_func(name, [3]).get()
                except FunctionNotFoundError as exc:
                    return exc
                except UnavailableError:
                    raise  # the cluster is still coming back
                except CloudburstError as exc:
                    return exc

            outcome = eventually(call)
            assert isinstance(outcome, FunctionNotFoundError), repr(outcome)
            cloud.register(lambda _, x: x * x, name)
            assert eventually(lambda: cloud.exec_func(name, [3]).get()) == 9
    finally:
        cluster.down()


def test_a_data_directory_of_another_version_stops_the_start_without_a_crash_loop(
    tmp_path: Path,
) -> None:
    """The storage refuses a data directory of another schema version once, with a message
    naming it, and the supervisor does not restart it: `up` fails with that message."""
    data = tmp_path / "data"
    log = DiskLog(data, "always")
    log.open()
    log.close()
    with sqlite3.connect(data / DB_FILE) as db:
        db.execute("PRAGMA user_version=99")
    with pytest.raises(ClusterStartError, match="storage failed to start") as info:
        start_cluster(tmp_path, executors=1)
    assert "schema version 99" in str(info.value)
    storage_log = (tmp_path / "logs" / "storage.log").read_text()
    assert storage_log.count("storage cannot start") == 1  # started once


def storage_rss_kb(cluster: LocalCluster) -> int:
    info = cluster.status()
    assert info is not None
    pid = next(s.pid for s in info.services if s.name == "storage")
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))


@pytest.fixture(scope="module")
def short_ttl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = start_cluster(
        tmp_path_factory.mktemp("short-ttl"),
        executors=1,
        CLOUDBURST_RESULT_TTL="2",
        CLOUDBURST_HISTORY_S="1",
    )
    yield cluster
    cluster.down()


def test_results_expire_after_the_ttl_across_a_storage_restart(
    short_ttl: LocalCluster, name: str
) -> None:
    """A call's result is stored with the TTL; the storage is killed -9 before it expires;
    after the restart the result still goes (the expiry was on disk), and a value without
    expiry stays."""
    with CloudburstConnection(short_ttl.scheduler_address, timeout=20) as cloud:
        cloud.register(lambda _, x: x * 2, name)
        future = cloud.exec_func(name, [21])
        assert future.get() == 42
        cloud.put_object(f"{name}-kept", b"stays")
        # Results land shortly after the call.
        wait_for(
            lambda: cloud.get(future.obj_id) is not None,
            "the result stored",
            timeout=30,
            interval=0.02,
        )
        kill_and_await_restart(short_ttl, "storage")
        wait_for(
            lambda: eventually(lambda: cloud.get(future.obj_id)) is None,
            "the result expired after a restart",
        )
        assert cloud.get_object(f"{name}-kept") == b"stays"


def test_storage_memory_stays_flat_under_expiring_results(short_ttl: LocalCluster) -> None:
    """Rounds of 5 000 results of 2 KiB (10 MiB) written with a short expiry, each round
    waited out until they are gone: once the first rounds reached the working set (the
    results of about one expiry and snapshot-history period, 1 s here), the storage's
    resident memory no longer grows with the results written: nothing per result stays."""
    channel = sync_channel(f"127.0.0.1:{short_ttl.cache_port}", service_credentials())
    stub = cache_pb2_grpc.CacheStub(channel)

    def round_of_results(n: int) -> None:
        for start in range(0, 5_000, 200):
            entries = [
                cache_pb2.KeyLattice(
                    key=f"res{n}-{i}", lattice=encode(LWW(1, os.urandom(2048))), expire_ms=300
                )
                for i in range(start, start + 200)
            ]
            stub.Put(cache_pb2.CachePutRequest(entries=entries), timeout=30)
        wait_for(
            lambda: (
                not stub.ListKeys(cache_pb2.ListKeysRequest(prefix=f"res{n}-"), timeout=30).keys
            ),
            "the round's results expired",
            timeout=120,
            interval=0.2,
        )

    try:
        for n in range(3):  # the same pattern reaches its working set
            round_of_results(n)
        settled = storage_rss_kb(short_ttl)
        for n in range(3, 9):  # 60 MiB more of results
            round_of_results(n)
        grown_mb = (storage_rss_kb(short_ttl) - settled) / 1024
        assert grown_mb < 10, f"the storage grew {grown_mb:.1f} MiB over 60 MiB of results"
    finally:
        channel.close()
