"""Unit tests for the management service's observer mode, without sockets: parsing
CLOUDBURST_MANAGEMENT_WATCH, choosing the mode, and the report made from observed health
(cloudburst_management.observed.report)."""

from __future__ import annotations

import pytest
from cloudburst_management.local import ServiceInfo
from cloudburst_management.observed import ExecutorSeen, Health, SchedulerSeen, report
from cloudburst_management.observer import to_proto
from cloudburst_management.settings import (
    ManagementSettings,
    ObserveSettings,
    Watched,
    parse_watch,
)
from cloudburst_protocol.errors import InvalidArgumentError

MANAGEMENT = ServiceInfo("management", "management", "management:7071", 1, "running", 0, "")
SCHEDULER = "scheduler:7070"
WATCH = parse_watch(
    "storage=storage:7072,cache=node1-cache:7072,cache=node2-cache:7072,"
    "executor=node1-exec0:7080,executor=node2-exec0:7080"
)
EXECUTORS = (
    ExecutorSeen("node1-exec0", "node1-exec0:7080", "node1", 11),
    ExecutorSeen("node2-exec0", "node2-exec0:7080", "node2", 22),
)


def all_serving(*but: str, health: Health = Health.UNREACHABLE) -> dict[str, Health]:
    addresses = [SCHEDULER, *(w.address for w in WATCH)]
    return {a: health if a in but else Health.SERVING for a in addresses}


def states(services: tuple[ServiceInfo, ...]) -> dict[str, tuple[str, str]]:
    return {s.name: (s.kind, s.state) for s in services}


def test_parse_watch_kinds_names_and_defaults() -> None:
    """Entries are [kind=]host:port; the name is the host; the kind defaults to service;
    blanks and repeated addresses are dropped."""
    assert parse_watch(" storage=storage:7072, ,redis:6379,storage=storage:7072") == (
        Watched("storage", "storage", "storage:7072"),
        Watched("service", "redis", "redis:6379"),
    )
    assert parse_watch("") == ()


@pytest.mark.parametrize("bad", ["storage", "cache=node1-cache", "x=:7072", "cache=host:port"])
def test_parse_watch_rejects_entries_without_host_and_port(bad: str) -> None:
    """A malformed entry is a typed error naming the setting and the entry."""
    with pytest.raises(InvalidArgumentError, match="CLOUDBURST_MANAGEMENT_WATCH"):
        parse_watch(bad)


def test_mode_defaults_to_local(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without CLOUDBURST_MANAGEMENT_MODE the service is the local supervisor, as before."""
    monkeypatch.delenv("CLOUDBURST_MANAGEMENT_MODE", raising=False)
    settings = ManagementSettings.from_env()
    assert settings.mode == "local"
    assert settings.observe is None


def test_observe_mode_reads_scheduler_and_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    """observe mode takes the scheduler's address and the watch list from the environment."""
    monkeypatch.setenv("CLOUDBURST_MANAGEMENT_MODE", "observe")
    monkeypatch.setenv("CLOUDBURST_SCHEDULER_ADDRESS", SCHEDULER)
    monkeypatch.setenv("CLOUDBURST_MANAGEMENT_WATCH", "storage=storage:7072")
    settings = ManagementSettings.from_env()
    assert settings.mode == "observe"
    assert settings.observe == ObserveSettings(
        SCHEDULER, (Watched("storage", "storage", "storage:7072"),)
    )


def test_unknown_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDBURST_MANAGEMENT_MODE", "kubernetes")
    with pytest.raises(InvalidArgumentError, match="CLOUDBURST_MANAGEMENT_MODE"):
        ManagementSettings.from_env()


def test_healthy_cluster_is_ready_and_lists_everything_in_order() -> None:
    """Every watched service serving and executors attached: ready; management first, then
    the scheduler, the watched services in their order, and the nodes."""
    info = report(MANAGEMENT, SCHEDULER, WATCH, all_serving(), SchedulerSeen(EXECUTORS, ()))
    assert info.ready
    assert info.scheduler_address == SCHEDULER
    assert info.management_address == "management:7071"
    assert [(s.kind, s.name) for s in info.services] == [
        ("management", "management"),
        ("scheduler", "scheduler"),
        ("storage", "storage"),
        ("cache", "node1-cache"),
        ("cache", "node2-cache"),
        ("executor", "node1-exec0"),
        ("executor", "node2-exec0"),
        ("node", "node1"),
        ("node", "node2"),
    ]
    assert {s.state for s in info.services} == {"running"}
    # A watched executor carries the process id the scheduler knows.
    assert [s.pid for s in info.services if s.kind == "executor"] == [11, 22]


def test_a_watched_service_down_makes_the_cluster_not_ready() -> None:
    """A node cache that does not answer is unreachable, and the cluster is not ready."""
    health = all_serving("node2-cache:7072")
    info = report(MANAGEMENT, SCHEDULER, WATCH, health, SchedulerSeen(EXECUTORS, ()))
    assert not info.ready
    assert states(info.services)["node2-cache"] == ("cache", "unreachable")
    assert states(info.services)["node1-cache"] == ("cache", "running")


def test_not_serving_is_told_apart_from_unreachable() -> None:
    """A server that answers NOT_SERVING (starting, stopping) is reported as such."""
    health = all_serving("storage:7072", health=Health.NOT_SERVING)
    info = report(MANAGEMENT, SCHEDULER, WATCH, health, SchedulerSeen(EXECUTORS, ()))
    assert not info.ready
    assert states(info.services)["storage"] == ("storage", "not serving")


def test_killed_executor_is_unreachable_even_while_still_attached() -> None:
    """The scheduler may list an executor for a moment after its container died: its own
    health check decides."""
    health = all_serving("node1-exec0:7080")
    info = report(MANAGEMENT, SCHEDULER, WATCH, health, SchedulerSeen(EXECUTORS, ()))
    assert not info.ready
    assert states(info.services)["node1-exec0"] == ("executor", "unreachable")


def test_serving_executor_the_scheduler_does_not_know_is_not_attached() -> None:
    info = report(MANAGEMENT, SCHEDULER, WATCH, all_serving(), SchedulerSeen(EXECUTORS[1:], ()))
    assert not info.ready
    assert states(info.services)["node1-exec0"] == ("executor", "not attached")
    # node1 still shows (its cache reports keys) but has nobody to run calls.
    seen = SchedulerSeen(EXECUTORS[1:], ("node1", "node2"))
    info = report(MANAGEMENT, SCHEDULER, WATCH, all_serving(), seen)
    assert states(info.services)["node1"] == ("node", "no executors")
    assert states(info.services)["node2"] == ("node", "running")


def test_scheduler_silent_means_not_ready_and_no_executors_or_nodes() -> None:
    health = all_serving(SCHEDULER)
    info = report(MANAGEMENT, SCHEDULER, WATCH, health, None)
    assert not info.ready
    assert states(info.services)["scheduler"] == ("scheduler", "unreachable")
    assert not [s for s in info.services if s.kind == "node"]


def test_unwatched_executors_are_listed_from_the_scheduler() -> None:
    """With only the scheduler watched, executors and nodes come from its Status; an address
    missing from the health map counts as unreachable."""
    extra = ExecutorSeen("node3-exec7", "10.0.0.9:7080", "node3", 33)
    info = report(
        MANAGEMENT, SCHEDULER, (), {SCHEDULER: Health.SERVING}, SchedulerSeen((extra,), ())
    )
    assert info.ready
    assert [(s.kind, s.name, s.address, s.pid, s.state) for s in info.services[1:]] == [
        ("scheduler", "scheduler", SCHEDULER, 0, "running"),
        ("executor", "node3-exec7", "10.0.0.9:7080", 33, "running"),
        ("node", "node3", "", 0, "running"),
    ]
    info = report(MANAGEMENT, SCHEDULER, WATCH, {SCHEDULER: Health.SERVING}, SchedulerSeen((), ()))
    assert not info.ready
    assert states(info.services)["storage"] == ("storage", "unreachable")


def test_no_executor_attached_is_not_ready() -> None:
    info = report(MANAGEMENT, SCHEDULER, (), {SCHEDULER: Health.SERVING}, SchedulerSeen((), ()))
    assert not info.ready


def test_scheduler_in_the_watch_list_is_checked_once_and_listed_first() -> None:
    watch = (*WATCH[:1], Watched("scheduler", "scheduler", SCHEDULER))
    info = report(MANAGEMENT, SCHEDULER, watch, all_serving(), SchedulerSeen(EXECUTORS, ()))
    assert [s.name for s in info.services[:3]] == ["management", "scheduler", "storage"]


def test_report_travels_as_the_management_status_message() -> None:
    """The report is the same ClusterStatus local mode sends, so status tooling reads it."""
    info = report(MANAGEMENT, SCHEDULER, WATCH, all_serving(), SchedulerSeen(EXECUTORS, ()))
    message = to_proto(info)
    assert message.ready
    assert message.scheduler_address == SCHEDULER
    assert [(s.name, s.kind, s.state) for s in message.services] == [
        (s.name, s.kind, s.state) for s in info.services
    ]
