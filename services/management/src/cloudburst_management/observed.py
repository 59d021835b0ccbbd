"""Observer mode's decisions, without I/O: from what was seen (each watched address's gRPC
health and the scheduler's view of executors and nodes) to the cluster's status report.

In observer mode (``CLOUDBURST_MANAGEMENT_MODE=observe``, e.g. under docker compose) the
management service starts nothing; another tool runs the services. It watches the addresses
of ``CLOUDBURST_MANAGEMENT_WATCH`` and the scheduler, and answers ``Management.Status`` with
what it sees: :func:`report` decides that answer; :mod:`cloudburst_management.observer` does
the looking.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cloudburst_management.local import ClusterInfo, ServiceInfo
from cloudburst_management.settings import Watched


class Health(enum.Enum):
    """What one gRPC health check of an address said."""

    SERVING = "running"
    NOT_SERVING = "not serving"  # the server answers, and says it is starting or stopping
    UNREACHABLE = "unreachable"  # no answer within the probe's deadline


@dataclass(frozen=True, slots=True)
class ExecutorSeen:
    executor_id: str
    address: str
    node_id: str
    pid: int


@dataclass(frozen=True, slots=True)
class SchedulerSeen:
    """What the scheduler's ``Status`` said: the executors attached to it and the nodes whose
    caches report their keys."""

    executors: tuple[ExecutorSeen, ...]
    nodes: tuple[str, ...]


def report(
    management: ServiceInfo,
    scheduler_address: str,
    watched: Sequence[Watched],
    health: Mapping[str, Health],
    scheduler: SchedulerSeen | None,
) -> ClusterInfo:
    """The status report of an observed cluster.

    ``health`` maps each checked address to what its health check said (a missing address
    counts as unreachable); ``scheduler`` is ``None`` when its ``Status`` did not answer.
    Listed, in order: management itself, the scheduler (always watched), the watched
    services, executors attached to the scheduler but not watched, and the nodes.

    - A watched service is ``running`` when its health check says SERVING. A watched
      executor must also be attached to the scheduler (else ``not attached``).
    - A node is ``running`` when at least one executor on it is attached, else
      ``no executors``.
    - The cluster is ready when every watched service (the scheduler included) is running,
      the scheduler answered, and at least one executor is attached.
    """
    attached = {e.address: e for e in scheduler.executors} if scheduler is not None else {}
    targets = list(watched)
    if all(w.address != scheduler_address for w in targets):
        targets.insert(0, Watched("scheduler", "scheduler", scheduler_address))
    else:  # keep the list's order, but the scheduler comes first
        targets.sort(key=lambda w: w.address != scheduler_address)

    services = [management]
    ready = scheduler is not None and bool(attached)
    for target in targets:
        state = health.get(target.address, Health.UNREACHABLE).value
        pid = 0
        if target.kind == "executor" and target.address in attached:
            pid = attached[target.address].pid
        elif target.kind == "executor" and state == Health.SERVING.value:
            state = "not attached"
        ready = ready and state == Health.SERVING.value
        services.append(ServiceInfo(target.name, target.kind, target.address, pid, state, 0, ""))

    checked = {t.address for t in targets}
    for executor in sorted(attached.values(), key=lambda e: e.executor_id):
        if executor.address not in checked:
            services.append(
                ServiceInfo(
                    executor.executor_id,
                    "executor",
                    executor.address,
                    executor.pid,
                    Health.SERVING.value,
                    0,
                    "",
                )
            )

    if scheduler is not None:
        with_executors = {e.node_id for e in scheduler.executors}
        for node in sorted(with_executors | set(scheduler.nodes)):
            state = Health.SERVING.value if node in with_executors else "no executors"
            services.append(ServiceInfo(node, "node", "", 0, state, 0, ""))

    return ClusterInfo(
        ready=ready,
        scheduler_address=scheduler_address,
        management_address=management.address,
        services=tuple(services),
    )


__all__ = [
    "ExecutorSeen",
    "Health",
    "SchedulerSeen",
    "report",
]
