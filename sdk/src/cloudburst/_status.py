"""What a scheduler reports about its cluster (``CloudburstConnection.status()``)."""

from __future__ import annotations

from dataclasses import dataclass

from cloudburst_protocol.gen import scheduler_pb2


@dataclass(frozen=True, slots=True)
class ExecutorStatus:
    """One executor attached to the scheduler."""

    executor_id: str
    address: str
    node_id: str
    pid: int
    in_flight: int


@dataclass(frozen=True, slots=True)
class SchedulerStatus:
    """The scheduler's view: its executors, and counts of registrations and pending calls."""

    address: str
    scheduler_id: str
    executors: tuple[ExecutorStatus, ...]
    functions: int
    dags: int
    pending_calls: int

    @classmethod
    def from_reply(cls, address: str, reply: scheduler_pb2.SchedulerStatus) -> SchedulerStatus:
        return cls(
            address=address,
            scheduler_id=reply.scheduler_id,
            executors=tuple(
                ExecutorStatus(e.executor_id, e.address, e.node_id, e.pid, e.in_flight)
                for e in reply.executors
            ),
            functions=reply.functions,
            dags=reply.dags,
            pending_calls=reply.pending_calls,
        )


__all__ = ["ExecutorStatus", "SchedulerStatus"]
