from cloudburst_protocol.gen import common_pb2 as _common_pb2
from cloudburst_protocol.gen import scheduler_pb2 as _scheduler_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ServiceStatus(_message.Message):
    __slots__ = ("name", "kind", "address", "pid", "state", "restarts", "log_path", "next_restart_at", "last_exit")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    LOG_PATH_FIELD_NUMBER: _ClassVar[int]
    NEXT_RESTART_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_EXIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    address: str
    pid: int
    state: str
    restarts: int
    log_path: str
    next_restart_at: float
    last_exit: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., address: _Optional[str] = ..., pid: _Optional[int] = ..., state: _Optional[str] = ..., restarts: _Optional[int] = ..., log_path: _Optional[str] = ..., next_restart_at: _Optional[float] = ..., last_exit: _Optional[str] = ...) -> None: ...

class ClusterStatus(_message.Message):
    __slots__ = ("services", "ready", "scheduler_address", "quarantined")
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    SCHEDULER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedCompositeFieldContainer[ServiceStatus]
    ready: bool
    scheduler_address: str
    quarantined: _containers.RepeatedCompositeFieldContainer[_scheduler_pb2.QuarantinedFunction]
    def __init__(self, services: _Optional[_Iterable[_Union[ServiceStatus, _Mapping]]] = ..., ready: _Optional[bool] = ..., scheduler_address: _Optional[str] = ..., quarantined: _Optional[_Iterable[_Union[_scheduler_pb2.QuarantinedFunction, _Mapping]]] = ...) -> None: ...
