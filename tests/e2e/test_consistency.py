"""Consistency modes under concurrent writers: anomalies are counted, and must be zero in the
snapshot modes. NORMAL is shown to exhibit them, so the checks are known to catch them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cloudburst import (
    MULTI,
    NORMAL,
    REPEATABLE_READ,
    CloudburstConnection,
    SnapshotExpiredError,
)
from cloudburst_management import LocalCluster

pytestmark = pytest.mark.e2e

CALLS = 15


class Writer:
    """A client writing in a loop on its own thread, for at most ``limit_s`` seconds."""

    def __init__(self, address: str, step: Any, limit_s: float = 30.0) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(address, step, limit_s))

    def _run(self, address: str, step: Any, limit_s: float) -> None:
        deadline = time.monotonic() + limit_s
        with CloudburstConnection(address) as cloud:
            i = 0
            while not self._stop.is_set() and time.monotonic() < deadline:
                i += 1
                step(cloud, i)

    def __enter__(self) -> Writer:
        self._thread.start()
        time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture
def cloud(spread: LocalCluster) -> Iterator[CloudburstConnection]:
    with CloudburstConnection(spread.scheduler_address, timeout=30) as connection:
        yield connection


def _read_twice_dag(cloud: CloudburstConnection, name: str) -> str:
    """A DAG whose two functions (on two executors: spread placement) read one key."""

    def first(lib: Any, key: str) -> list[Any]:
        seen = lib.get_object(key)
        time.sleep(0.01)
        return [key, seen]

    def second(lib: Any, previous: list[Any]) -> list[Any]:
        key, seen = previous
        return [seen, lib.get_object(key), lib.get_id()]

    cloud.register(first, f"{name}-first")
    cloud.register(second, f"{name}-second")
    dag = f"{name}-dag"
    cloud.register_dag(
        dag, [f"{name}-first", f"{name}-second"], [(f"{name}-first", f"{name}-second")]
    )
    return dag


def test_repeatable_read(spread: LocalCluster, cloud: CloudburstConnection, name: str) -> None:
    """Two reads of a key by two functions of one call, on two executors, while a writer
    keeps changing it: they may differ under NORMAL, never under REPEATABLE_READ."""
    key = f"{name}-k"
    cloud.put_object(key, 0)
    dag = _read_twice_dag(cloud, name)
    anomalies = {NORMAL: 0, REPEATABLE_READ: 0}
    with Writer(spread.scheduler_address, lambda c, i: c.put_object(key, i)):
        for mode in anomalies:
            for _ in range(CALLS):
                a, b, _ = cloud.call_dag(dag, {f"{name}-first": key}, consistency=mode).get()
                anomalies[mode] += a != b
    assert anomalies[REPEATABLE_READ] == 0
    assert anomalies[NORMAL] > 0, "the writer never raced the readers: the check proves nothing"


def test_causal_reads_never_see_a_reply_without_its_post(
    spread: LocalCluster, cloud: CloudburstConnection, name: str
) -> None:
    """A writer posts, then replies to its post; a reader reads the post, then the reply. Under
    the causal mode no reader sees a reply whose post it did not see; under NORMAL it can."""
    post, reply = f"{name}-post", f"{name}-reply"
    cloud.put_object(post, 0)
    cloud.put_object(reply, 0)

    def write(c: CloudburstConnection, i: int) -> None:
        c.put_object(post, i)
        c.put_object(reply, i)

    def reader(lib: Any) -> list[int]:
        seen_post = lib.get_object(post)
        time.sleep(0.01)
        return [seen_post, lib.get_object(reply)]

    cloud.register(reader, f"{name}-reader")
    cloud.register_dag(f"{name}-dag", [f"{name}-reader"], [])
    anomalies = {NORMAL: 0, MULTI: 0}
    with Writer(spread.scheduler_address, write):
        for mode in anomalies:
            for _ in range(CALLS):
                seen_post, seen_reply = cloud.call_dag(f"{name}-dag", {}, consistency=mode).get()
                anomalies[mode] += seen_reply > seen_post
    assert anomalies[MULTI] == 0
    assert anomalies[NORMAL] > 0, "the writer never raced the reader: the check proves nothing"


def test_a_call_reads_its_own_writes_downstream(cloud: CloudburstConnection, name: str) -> None:
    """In a snapshot mode, what a function writes is what its downstream functions read
    (merged with the snapshot: a set gains the call's own additions)."""
    key = f"{name}-k"
    cloud.put_object(key, {"before"})

    def add(lib: Any, item: str) -> str:
        lib.put_object(key, {item})
        return item

    def look(lib: Any, item: str) -> Any:
        return sorted(lib.get_object(key))

    cloud.register(add, f"{name}-add")
    cloud.register(look, f"{name}-look")
    dag = f"{name}-dag"
    cloud.register_dag(dag, [f"{name}-add", f"{name}-look"], [(f"{name}-add", f"{name}-look")])
    for mode in (REPEATABLE_READ, MULTI):
        item = f"item{mode}"
        assert item in cloud.call_dag(dag, {f"{name}-add": item}, consistency=mode).get()
    assert cloud.get_object(key) == {"before", f"item{REPEATABLE_READ}", f"item{MULTI}"}


def test_snapshot_older_than_the_history_fails_clearly(
    spread: LocalCluster, cloud: CloudburstConnection, name: str
) -> None:
    """A snapshot call that outlives the store's version history of a key it reads gets
    SnapshotExpiredError, not a silently newer value."""
    key = f"{name}-k"
    cloud.put_object(key, 0)

    def slow_reader(lib: Any) -> Any:
        time.sleep(1.0)
        return lib.get_object(key)

    cloud.register(slow_reader, name)
    cloud.register_dag(f"{name}-dag", [name], [])
    future = cloud.call_dag(f"{name}-dag", {}, consistency=REPEATABLE_READ)
    time.sleep(0.3)
    for i in range(40):
        cloud.put_object(key, i + 1)
    with pytest.raises(SnapshotExpiredError):
        future.get()
