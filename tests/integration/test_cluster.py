"""The compose file's cluster as containers, driven from the host like a user would: redis, the
storage authority, management (observer mode) and two function nodes of a cache and two
executors each, with the compose file's names, settings and host names (see
``start_compose_cluster``). Two schedulers: ``scheduler`` with the default placement, as in
compose, and ``scheduler-spread`` with ``CLOUDBURST_PLACEMENT=spread`` (each function of a DAG
on the next executor in turn: executor ids sort node1-exec0, node1-exec1, node2-exec0,
node2-exec1, so any three functions in a row span both nodes, and the first and the third run
on different nodes). Only the schedulers and management are published, on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from cloudburst import CloudburstConnection, CloudburstReference
from cloudburst_protocol import auth
from cloudburst_protocol.channels import sync_channel
from cloudburst_protocol.gen import (
    common_pb2,
    management_pb2_grpc,
    scheduler_pb2,
    scheduler_pb2_grpc,
)

from ._docker_cluster import (
    MANAGEMENT_PORT,
    SCHEDULER_PORT,
    Cluster,
    check_seed_output,
    management_status,
    network_cluster,
    run_seed,
    start_compose_cluster,
)

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_images", "dump_logs_on_failure")]

CALL_TIMEOUT_S = "30"  # every call and .get() below is bounded by this


@pytest.fixture(scope="module")
def cluster(docker_images: None) -> Iterator[Cluster]:
    with network_cluster() as cluster:
        start_compose_cluster(
            cluster, schedulers={"scheduler-spread": {"CLOUDBURST_PLACEMENT": "spread"}}
        )
        yield cluster


@pytest.fixture
def spread(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudburstConnection]:
    """A connection to the spread scheduler, made the way the seed examples make theirs."""
    port = cluster.published_port("scheduler-spread", SCHEDULER_PORT)
    monkeypatch.setenv("CLOUDBURST_SCHEDULER_PORT", str(port))
    monkeypatch.setenv("CLOUDBURST_CALL_TIMEOUT", CALL_TIMEOUT_S)
    with CloudburstConnection("127.0.0.1", "127.0.0.1", local=True) as cloud:
        yield cloud


def node(messaging_id: str) -> str:
    """``node1-exec0@node1-exec0:7080`` -> ``node1``."""
    return messaging_id.split("-", maxsplit=1)[0]


def test_only_the_front_doors_are_published(cluster: Cluster) -> None:
    """The schedulers and management publish one port each, on 127.0.0.1; nothing else."""
    expected = {"management": MANAGEMENT_PORT}
    for name in cluster.containers:
        ports = cluster.raw(name).attrs["NetworkSettings"]["Ports"] or {}
        published = {p: b for p, b in ports.items() if b}
        port = SCHEDULER_PORT if name.startswith("scheduler") else expected.get(name)
        if port is None:
            assert published == {}, name
        else:
            assert list(published) == [f"{port}/tcp"], name
            assert [b["HostIp"] for b in published[f"{port}/tcp"]] == ["127.0.0.1"]


def test_seed_example_runs_unchanged_spread(cluster: Cluster) -> None:
    """The seed script through the spread scheduler: every call goes through it."""
    check_seed_output(run_seed(cluster.published_port("scheduler-spread", SCHEDULER_PORT)))


def test_seed_example_runs_unchanged_default_placement(cluster: Cluster) -> None:
    """The default placement, what compose users get: the SDK cannot reach the executors
    from the host and goes through the scheduler instead."""
    check_seed_output(run_seed(cluster.published_port("scheduler", SCHEDULER_PORT)))


def test_management_observes_the_cluster(cluster: Cluster) -> None:
    """Management in observer mode reports, through Management.Status, every watched service
    running, the four executors attached, and both nodes."""
    status = management_status(cluster.published_port("management", MANAGEMENT_PORT))
    services = {s.name: (s.kind, s.state) for s in status.services}
    assert status.ready, services
    assert status.scheduler_address == f"scheduler:{SCHEDULER_PORT}"
    assert services == {
        "management": ("management", "running"),
        "scheduler": ("scheduler", "running"),
        "storage": ("storage", "running"),
        "node1-cache": ("cache", "running"),
        "node2-cache": ("cache", "running"),
        "node1-exec0": ("executor", "running"),
        "node1-exec1": ("executor", "running"),
        "node2-exec0": ("executor", "running"),
        "node2-exec1": ("executor", "running"),
        "node1": ("node", "running"),
        "node2": ("node", "running"),
    }


def test_dag_spans_both_nodes(cluster: Cluster, spread: CloudburstConnection) -> None:
    """With spread placement a three-function DAG runs on three executors of both nodes, and
    each result travels straight to the next executor over the Docker network, to the address
    it advertised: its host name, which compose sets to the service name."""

    def first(cloudburst: Any, x: int) -> tuple[list[str], int]:
        return [cloudburst.get_id()], x + 1

    def then(cloudburst: Any, upstream: tuple[list[str], int]) -> tuple[list[str], int]:
        seen, value = upstream
        return [*seen, cloudburst.get_id()], value * 10

    spread.register(first, "span_1")
    spread.register(then, "span_2")
    spread.register(then, "span_3")
    functions = ["span_1", "span_2", "span_3"]
    assert spread.register_dag("span", functions, [("span_1", "span_2"), ("span_2", "span_3")])
    for x in (1, 2):
        ids, value = spread.call_dag("span", {"span_1": [x]}).get()
        assert value == (x + 1) * 100
        assert len(set(ids)) == 3, ids
        assert {node(i) for i in ids} == {"node1", "node2"}, ids
        for messaging_id in ids:  # <executor id>@<advertised host>:<port>
            executor_id, address = messaging_id.split("@")
            assert address == f"{executor_id}:7080"
        assert node(ids[0]) != node(ids[2]), ids


def register_chain(cloud: CloudburstConnection, name: str, first: Any, last: Any) -> None:
    """A DAG ``first -> hop -> last``: with spread placement ``first`` and ``last`` always run
    on different nodes (see the module's docstring)."""

    def hop(cloudburst: Any, upstream: Any) -> Any:
        return upstream

    for suffix, function in (("1", first), ("2", hop), ("3", last)):
        cloud.register(function, f"{name}_{suffix}")
    functions = [f"{name}_1", f"{name}_2", f"{name}_3"]
    assert cloud.register_dag(name, functions, [tuple(functions[:2]), tuple(functions[1:])])


def test_state_is_shared_across_nodes(cluster: Cluster, spread: CloudburstConnection) -> None:
    """State lives in the storage authority, not on a node: a value put by a function on one
    node is read by a function on the other node and from the host; a value put from the host
    is read on both nodes, directly and as a reference argument."""

    def write(cloudburst: Any, key: str, value: Any) -> tuple[str, str]:
        cloudburst.put_object(key, value)
        return key, cloudburst.get_id()

    def read_written(cloudburst: Any, upstream: tuple[str, str]) -> tuple[str, str, Any]:
        key, writer = upstream
        return writer, cloudburst.get_id(), cloudburst.get_object(key)

    register_chain(spread, "handoff", write, read_written)
    for attempt in range(2):
        key = f"written-on-a-node-{uuid.uuid4().hex[:8]}"
        value = {"attempt": attempt, "n": [1, 2, 3]}
        writer, reader, got = spread.call_dag("handoff", {"handoff_1": [key, value]}).get()
        assert node(writer) != node(reader), (writer, reader)
        assert got == value
        assert spread.get_object(key) == value

    def read_first(cloudburst: Any, key: str) -> list[tuple[str, Any]]:
        return [(cloudburst.get_id(), cloudburst.get_object(key))]

    def read_last(cloudburst: Any, key: str, seen: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        return [*seen, (cloudburst.get_id(), cloudburst.get_object(key))]

    def echo_first(cloudburst: Any, value: Any) -> list[tuple[str, Any]]:
        return [(cloudburst.get_id(), value)]

    def echo_last(
        cloudburst: Any, value: Any, seen: list[tuple[str, Any]]
    ) -> list[tuple[str, Any]]:
        return [*seen, (cloudburst.get_id(), value)]

    key = f"put-from-the-host-{uuid.uuid4().hex[:8]}"
    host_value = {"from": "host", "n": 7}
    assert spread.put_object(key, host_value)
    register_chain(spread, "host_read", read_first, read_last)
    seen = spread.call_dag("host_read", {"host_read_1": [key], "host_read_3": [key]}).get()
    assert {node(i) for i, _ in seen} == {"node1", "node2"}, seen
    assert [v for _, v in seen] == [host_value, host_value]

    register_chain(spread, "host_ref", echo_first, echo_last)
    ref = [CloudburstReference(key, True)]
    seen = spread.call_dag("host_ref", {"host_ref_1": ref, "host_ref_3": ref}).get()
    assert {node(i) for i, _ in seen} == {"node1", "node2"}, seen
    assert [v for _, v in seen] == [host_value, host_value]


def test_the_published_ports_refuse_strangers(cluster: Cluster) -> None:
    """Without a token, and with a wrong one, the containers' scheduler and management refuse
    every call (UNAUTHENTICATED); with the session's admin token they answer."""
    scheduler = f"127.0.0.1:{cluster.published_port('scheduler', SCHEDULER_PORT)}"
    management = f"127.0.0.1:{cluster.published_port('management', MANAGEMENT_PORT)}"
    for credentials in (auth.Credentials(None, "none"), auth.Credentials("wrong", "test")):
        with sync_channel(scheduler, credentials) as channel:
            stub = scheduler_pb2_grpc.SchedulerStub(channel)
            with pytest.raises(grpc.RpcError) as listing:
                stub.ListFunctions(scheduler_pb2.ListRequest(), timeout=10)
            assert listing.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with sync_channel(management, credentials) as channel:
            stub = management_pb2_grpc.ManagementStub(channel)
            with pytest.raises(grpc.RpcError) as shutdown:
                stub.Shutdown(common_pb2.Empty(), timeout=10)
            assert shutdown.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with sync_channel(scheduler, auth.client_credentials()) as channel:
        scheduler_pb2_grpc.SchedulerStub(channel).ListFunctions(
            scheduler_pb2.ListRequest(), timeout=10
        )
