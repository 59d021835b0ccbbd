"""A cluster of containers, driven from the host like a user would: a cache, two executors and
two schedulers on one Docker network — ``scheduler`` with the default placement and
``scheduler-spread`` with ``CLOUDBURST_PLACEMENT=spread`` (so a DAG's functions land on
different executors) — both published on 127.0.0.1 only. Management is not in it: today it
is a local process supervisor, not a cluster member."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from cloudburst import CloudburstConnection, CloudburstReference

from ._docker_cluster import SCHEDULER_PORT, Cluster, network_cluster, start_cloudburst

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_images", "dump_logs_on_failure")]

CALL_TIMEOUT_S = "30"  # every call and .get() below is bounded by this

# The README's quickstart as the original `test.py`, verbatim.
SEED_SCRIPT = textwrap.dedent(
    """
    from cloudburst.client.client import CloudburstConnection
    local_cloud = CloudburstConnection('127.0.0.1', '127.0.0.1', local=True)
    cloud_sq = local_cloud.register(lambda _, x: x * x, 'square')
    print(cloud_sq(2).get())
    print(local_cloud.register_dag('dag', ['square'], []))
    print(local_cloud.call_dag('dag', { 'square': [2] }).get())
    """
)


@pytest.fixture(scope="module")
def cluster(docker_images: None) -> Iterator[Cluster]:
    with network_cluster() as cluster:
        start_cloudburst(
            cluster,
            executors=2,
            schedulers={
                "scheduler": {},
                "scheduler-spread": {"CLOUDBURST_PLACEMENT": "spread"},
            },
        )
        yield cluster


def run_seed(cluster: Cluster, scheduler: str) -> subprocess.CompletedProcess[str]:
    """The seed script in a fresh interpreter on the host; only the port comes from the
    environment, as with a local cluster on a non-default port."""
    env = dict(
        os.environ,
        CLOUDBURST_SCHEDULER_PORT=str(cluster.published_port(scheduler, SCHEDULER_PORT)),
        CLOUDBURST_CALL_TIMEOUT=CALL_TIMEOUT_S,
    )
    return subprocess.run(
        [sys.executable, "-c", SEED_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.fixture
def spread(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudburstConnection]:
    """A connection to the spread scheduler, made the way the seed examples make theirs."""
    port = cluster.published_port("scheduler-spread", SCHEDULER_PORT)
    monkeypatch.setenv("CLOUDBURST_SCHEDULER_PORT", str(port))
    monkeypatch.setenv("CLOUDBURST_CALL_TIMEOUT", CALL_TIMEOUT_S)
    with CloudburstConnection("127.0.0.1", "127.0.0.1", local=True) as cloud:
        yield cloud


def test_only_the_schedulers_are_published(cluster: Cluster) -> None:
    for name in cluster.containers:
        ports = cluster.raw(name).attrs["NetworkSettings"]["Ports"] or {}
        published = {p: b for p, b in ports.items() if b}
        if name.startswith("scheduler"):
            assert list(published) == [f"{SCHEDULER_PORT}/tcp"]
            assert [b["HostIp"] for b in published[f"{SCHEDULER_PORT}/tcp"]] == ["127.0.0.1"]
        else:
            assert published == {}, name


def test_seed_example_runs_unchanged_spread(cluster: Cluster) -> None:
    done = run_seed(cluster, "scheduler-spread")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n") == ["4", "(True, 0)", "4", ""]


def test_seed_example_runs_unchanged_default_placement(cluster: Cluster) -> None:
    """The default placement, what `docker compose` users get."""
    done = run_seed(cluster, "scheduler")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n") == ["4", "(True, 0)", "4", ""]


def test_dag_spans_both_executors(cluster: Cluster, spread: CloudburstConnection) -> None:
    """With spread placement the two functions run on different executor containers, and the
    first one's result travels straight to the second over the Docker network, to the address
    the executor advertised: its container's host name."""

    def first(cloudburst: Any, x: int) -> tuple[str, int]:
        return cloudburst.get_id(), x + 1

    def second(cloudburst: Any, upstream: tuple[str, int]) -> tuple[str, str, int]:
        where, value = upstream
        return where, cloudburst.get_id(), value * 10

    spread.register(first, "span_first")
    spread.register(second, "span_second")
    assert spread.register_dag(
        "span", ["span_first", "span_second"], [("span_first", "span_second")]
    )
    first_id, second_id, value = spread.call_dag("span", {"span_first": [1]}).get()
    assert value == 20
    # Messaging ids are <executor id>@<advertised host>:<port>.
    hosts = {first_id.split("@")[1], second_id.split("@")[1]}
    expected = {f"{cluster.hostname(f'executor{i}')}:7080" for i in (1, 2)}
    assert hosts == expected


def test_state_is_shared_across_executors(cluster: Cluster, spread: CloudburstConnection) -> None:
    """State lives in the cache, not in an executor: a value put from the host is read on both
    executors, a value put by a function on one executor is read by a function on the other
    and from the host, and a reference argument is resolved on both. Each check is a DAG of
    two functions, which spread placement puts on the two executors."""

    def where(cloudburst: Any) -> str:
        return str(cloudburst.get_id().split("@")[1])

    def read_first(cloudburst: Any, key: str) -> tuple[str, Any]:
        return where(cloudburst), cloudburst.get_object(key)

    def read_second(cloudburst: Any, key: str, first: tuple[str, Any]) -> list[tuple[str, Any]]:
        return [first, (where(cloudburst), cloudburst.get_object(key))]

    def write(cloudburst: Any, key: str, value: Any) -> str:
        cloudburst.put_object(key, value)
        return where(cloudburst)

    def read_after(cloudburst: Any, key: str, writer: str) -> tuple[str, str, Any]:
        return writer, where(cloudburst), cloudburst.get_object(key)

    def echo_first(cloudburst: Any, value: Any) -> tuple[str, Any]:
        return where(cloudburst), value

    def echo_second(cloudburst: Any, value: Any, first: tuple[str, Any]) -> list[tuple[str, Any]]:
        return [first, (where(cloudburst), value)]

    def register_pair(dag: str, first: Any, second: Any) -> None:
        spread.register(first, f"{dag}_1")
        spread.register(second, f"{dag}_2")
        spread.register_dag(dag, [f"{dag}_1", f"{dag}_2"], [(f"{dag}_1", f"{dag}_2")])

    value = {"n": [1, 2, 3]}
    assert spread.put_object("shared-from-host", value)
    register_pair("state_read", read_first, read_second)
    key = ["shared-from-host"]
    seen = spread.call_dag("state_read", {"state_read_1": key, "state_read_2": key}).get()
    assert seen[0][0] != seen[1][0], seen
    assert [v for _, v in seen] == [value, value]

    register_pair("state_handoff", write, read_after)
    key = ["written-in-a-function"]
    writer, reader, got = spread.call_dag(
        "state_handoff", {"state_handoff_1": [*key, "v1"], "state_handoff_2": key}
    ).get()
    assert writer != reader
    assert got == "v1"
    assert spread.get_object("written-in-a-function") == "v1"

    register_pair("state_ref", echo_first, echo_second)
    ref = [CloudburstReference("shared-from-host", True)]
    resolved = spread.call_dag("state_ref", {"state_ref_1": ref, "state_ref_2": ref}).get()
    assert resolved[0][0] != resolved[1][0], resolved
    assert [v for _, v in resolved] == [value, value]
