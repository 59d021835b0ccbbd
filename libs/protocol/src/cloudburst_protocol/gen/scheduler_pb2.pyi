from cloudburst_protocol.gen import common_pb2 as _common_pb2
from cloudburst_protocol.gen import executor_pb2 as _executor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FunctionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FUNCTION_KIND_FUNCTION: _ClassVar[FunctionKind]
    FUNCTION_KIND_CLASS: _ClassVar[FunctionKind]

class CallPhase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CALL_PHASE_UNKNOWN: _ClassVar[CallPhase]
    CALL_PHASE_PENDING: _ClassVar[CallPhase]
    CALL_PHASE_DONE: _ClassVar[CallPhase]
FUNCTION_KIND_FUNCTION: FunctionKind
FUNCTION_KIND_CLASS: FunctionKind
CALL_PHASE_UNKNOWN: CallPhase
CALL_PHASE_PENDING: CallPhase
CALL_PHASE_DONE: CallPhase

class ExecutorExit(_message.Message):
    __slots__ = ("executor_id", "function", "call_id", "reason")
    EXECUTOR_ID_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    executor_id: str
    function: str
    call_id: str
    reason: str
    def __init__(self, executor_id: _Optional[str] = ..., function: _Optional[str] = ..., call_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class QuarantinedFunction(_message.Message):
    __slots__ = ("function", "reason", "until")
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    function: str
    reason: str
    until: float
    def __init__(self, function: _Optional[str] = ..., reason: _Optional[str] = ..., until: _Optional[float] = ...) -> None: ...

class RegisterFunctionRequest(_message.Message):
    __slots__ = ("name", "body", "kind", "idempotent")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    body: bytes
    kind: FunctionKind
    idempotent: bool
    def __init__(self, name: _Optional[str] = ..., body: _Optional[bytes] = ..., kind: _Optional[_Union[FunctionKind, str]] = ..., idempotent: _Optional[bool] = ...) -> None: ...

class RegisterFunctionResponse(_message.Message):
    __slots__ = ("digest",)
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    digest: str
    def __init__(self, digest: _Optional[str] = ...) -> None: ...

class Edge(_message.Message):
    __slots__ = ("source", "target")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    source: str
    target: str
    def __init__(self, source: _Optional[str] = ..., target: _Optional[str] = ...) -> None: ...

class RegisterDagRequest(_message.Message):
    __slots__ = ("name", "functions", "connections")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    functions: _containers.RepeatedScalarFieldContainer[str]
    connections: _containers.RepeatedCompositeFieldContainer[Edge]
    def __init__(self, name: _Optional[str] = ..., functions: _Optional[_Iterable[str]] = ..., connections: _Optional[_Iterable[_Union[Edge, _Mapping]]] = ...) -> None: ...

class RegisterDagResponse(_message.Message):
    __slots__ = ("replaced",)
    REPLACED_FIELD_NUMBER: _ClassVar[int]
    replaced: bool
    def __init__(self, replaced: _Optional[bool] = ...) -> None: ...

class DagDefinition(_message.Message):
    __slots__ = ("name", "functions", "connections")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    functions: _containers.RepeatedScalarFieldContainer[str]
    connections: _containers.RepeatedCompositeFieldContainer[Edge]
    def __init__(self, name: _Optional[str] = ..., functions: _Optional[_Iterable[str]] = ..., connections: _Optional[_Iterable[_Union[Edge, _Mapping]]] = ...) -> None: ...

class NameRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteFunctionRequest(_message.Message):
    __slots__ = ("name", "force")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    force: bool
    def __init__(self, name: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class CallStateReply(_message.Message):
    __slots__ = ("phase",)
    PHASE_FIELD_NUMBER: _ClassVar[int]
    phase: CallPhase
    def __init__(self, phase: _Optional[_Union[CallPhase, str]] = ...) -> None: ...

class ListRequest(_message.Message):
    __slots__ = ("prefix",)
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    def __init__(self, prefix: _Optional[str] = ...) -> None: ...

class ListResponse(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class CallRequest(_message.Message):
    __slots__ = ("call_id", "function", "dag", "args", "consistency", "output_key", "client_id", "trace_context", "detach")
    class ArgsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.ArgList
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.ArgList, _Mapping]] = ...) -> None: ...
    class TraceContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    DAG_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_KEY_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    DETACH_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    function: str
    dag: str
    args: _containers.MessageMap[str, _common_pb2.ArgList]
    consistency: _common_pb2.Consistency
    output_key: str
    client_id: str
    trace_context: _containers.ScalarMap[str, str]
    detach: bool
    def __init__(self, call_id: _Optional[str] = ..., function: _Optional[str] = ..., dag: _Optional[str] = ..., args: _Optional[_Mapping[str, _common_pb2.ArgList]] = ..., consistency: _Optional[_Union[_common_pb2.Consistency, str]] = ..., output_key: _Optional[str] = ..., client_id: _Optional[str] = ..., trace_context: _Optional[_Mapping[str, str]] = ..., detach: _Optional[bool] = ...) -> None: ...

class LeaseRequest(_message.Message):
    __slots__ = ("function", "dag")
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    DAG_FIELD_NUMBER: _ClassVar[int]
    function: str
    dag: str
    def __init__(self, function: _Optional[str] = ..., dag: _Optional[str] = ...) -> None: ...

class LeaseResponse(_message.Message):
    __slots__ = ("direct", "nodes", "sources", "dag_version", "executors", "ttl_ms", "preferred_node", "idempotent")
    DIRECT_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    DAG_VERSION_FIELD_NUMBER: _ClassVar[int]
    EXECUTORS_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_NODE_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENT_FIELD_NUMBER: _ClassVar[int]
    direct: bool
    nodes: _containers.RepeatedCompositeFieldContainer[_executor_pb2.DagNode]
    sources: _containers.RepeatedScalarFieldContainer[str]
    dag_version: str
    executors: _containers.RepeatedCompositeFieldContainer[ExecutorInfo]
    ttl_ms: int
    preferred_node: str
    idempotent: bool
    def __init__(self, direct: _Optional[bool] = ..., nodes: _Optional[_Iterable[_Union[_executor_pb2.DagNode, _Mapping]]] = ..., sources: _Optional[_Iterable[str]] = ..., dag_version: _Optional[str] = ..., executors: _Optional[_Iterable[_Union[ExecutorInfo, _Mapping]]] = ..., ttl_ms: _Optional[int] = ..., preferred_node: _Optional[str] = ..., idempotent: _Optional[bool] = ...) -> None: ...

class CallResponse(_message.Message):
    __slots__ = ("call_id", "outcome")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    outcome: _common_pb2.Outcome
    def __init__(self, call_id: _Optional[str] = ..., outcome: _Optional[_Union[_common_pb2.Outcome, _Mapping]] = ...) -> None: ...

class GetObjectRequest(_message.Message):
    __slots__ = ("key", "wait_ms")
    KEY_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    key: str
    wait_ms: int
    def __init__(self, key: _Optional[str] = ..., wait_ms: _Optional[int] = ...) -> None: ...

class GetObjectResponse(_message.Message):
    __slots__ = ("found", "lattice")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    LATTICE_FIELD_NUMBER: _ClassVar[int]
    found: bool
    lattice: bytes
    def __init__(self, found: _Optional[bool] = ..., lattice: _Optional[bytes] = ...) -> None: ...

class PutObjectRequest(_message.Message):
    __slots__ = ("key", "lattice", "bulk", "bulk_id")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LATTICE_FIELD_NUMBER: _ClassVar[int]
    BULK_FIELD_NUMBER: _ClassVar[int]
    BULK_ID_FIELD_NUMBER: _ClassVar[int]
    key: str
    lattice: bytes
    bulk: str
    bulk_id: str
    def __init__(self, key: _Optional[str] = ..., lattice: _Optional[bytes] = ..., bulk: _Optional[str] = ..., bulk_id: _Optional[str] = ...) -> None: ...

class PutObjectResponse(_message.Message):
    __slots__ = ("resend_inline",)
    RESEND_INLINE_FIELD_NUMBER: _ClassVar[int]
    resend_inline: bool
    def __init__(self, resend_inline: _Optional[bool] = ...) -> None: ...

class ExecutorHello(_message.Message):
    __slots__ = ("executor_id", "address", "node_id", "pid")
    EXECUTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    executor_id: str
    address: str
    node_id: str
    pid: int
    def __init__(self, executor_id: _Optional[str] = ..., address: _Optional[str] = ..., node_id: _Optional[str] = ..., pid: _Optional[int] = ...) -> None: ...

class CallResult(_message.Message):
    __slots__ = ("call_id", "outcome", "executor_id")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_ID_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    outcome: _common_pb2.Outcome
    executor_id: str
    def __init__(self, call_id: _Optional[str] = ..., outcome: _Optional[_Union[_common_pb2.Outcome, _Mapping]] = ..., executor_id: _Optional[str] = ...) -> None: ...

class LoadReport(_message.Message):
    __slots__ = ("queued", "busy", "overdue")
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    BUSY_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_FIELD_NUMBER: _ClassVar[int]
    queued: int
    busy: bool
    overdue: bool
    def __init__(self, queued: _Optional[int] = ..., busy: _Optional[bool] = ..., overdue: _Optional[bool] = ...) -> None: ...

class KeySize(_message.Message):
    __slots__ = ("key", "size")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    key: str
    size: int
    def __init__(self, key: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class KeyReport(_message.Message):
    __slots__ = ("node_id", "full", "held", "dropped")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    FULL_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    full: bool
    held: _containers.RepeatedCompositeFieldContainer[KeySize]
    dropped: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, node_id: _Optional[str] = ..., full: _Optional[bool] = ..., held: _Optional[_Iterable[_Union[KeySize, _Mapping]]] = ..., dropped: _Optional[_Iterable[str]] = ...) -> None: ...

class KeyUsage(_message.Message):
    __slots__ = ("function", "keys")
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    function: str
    keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, function: _Optional[str] = ..., keys: _Optional[_Iterable[str]] = ...) -> None: ...

class RegistryAck(_message.Message):
    __slots__ = ("seq",)
    SEQ_FIELD_NUMBER: _ClassVar[int]
    seq: int
    def __init__(self, seq: _Optional[int] = ...) -> None: ...

class ExecutorMessage(_message.Message):
    __slots__ = ("hello", "result", "load", "registry_ack", "key_usage")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_ACK_FIELD_NUMBER: _ClassVar[int]
    KEY_USAGE_FIELD_NUMBER: _ClassVar[int]
    hello: ExecutorHello
    result: CallResult
    load: LoadReport
    registry_ack: RegistryAck
    key_usage: KeyUsage
    def __init__(self, hello: _Optional[_Union[ExecutorHello, _Mapping]] = ..., result: _Optional[_Union[CallResult, _Mapping]] = ..., load: _Optional[_Union[LoadReport, _Mapping]] = ..., registry_ack: _Optional[_Union[RegistryAck, _Mapping]] = ..., key_usage: _Optional[_Union[KeyUsage, _Mapping]] = ...) -> None: ...

class SchedulerMessage(_message.Message):
    __slots__ = ("trigger", "welcome", "registry", "cancel")
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    trigger: _executor_pb2.Trigger
    welcome: str
    registry: _executor_pb2.RegistryUpdate
    cancel: str
    def __init__(self, trigger: _Optional[_Union[_executor_pb2.Trigger, _Mapping]] = ..., welcome: _Optional[str] = ..., registry: _Optional[_Union[_executor_pb2.RegistryUpdate, _Mapping]] = ..., cancel: _Optional[str] = ...) -> None: ...

class ExecutorInfo(_message.Message):
    __slots__ = ("executor_id", "address", "node_id", "pid", "in_flight")
    EXECUTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    executor_id: str
    address: str
    node_id: str
    pid: int
    in_flight: int
    def __init__(self, executor_id: _Optional[str] = ..., address: _Optional[str] = ..., node_id: _Optional[str] = ..., pid: _Optional[int] = ..., in_flight: _Optional[int] = ...) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ("node_id", "keys", "bytes")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    keys: int
    bytes: int
    def __init__(self, node_id: _Optional[str] = ..., keys: _Optional[int] = ..., bytes: _Optional[int] = ...) -> None: ...

class SchedulerStatus(_message.Message):
    __slots__ = ("scheduler_id", "executors", "functions", "dags", "pending_calls", "nodes", "quarantined")
    SCHEDULER_ID_FIELD_NUMBER: _ClassVar[int]
    EXECUTORS_FIELD_NUMBER: _ClassVar[int]
    FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    DAGS_FIELD_NUMBER: _ClassVar[int]
    PENDING_CALLS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    scheduler_id: str
    executors: _containers.RepeatedCompositeFieldContainer[ExecutorInfo]
    functions: int
    dags: int
    pending_calls: int
    nodes: _containers.RepeatedCompositeFieldContainer[NodeInfo]
    quarantined: _containers.RepeatedCompositeFieldContainer[QuarantinedFunction]
    def __init__(self, scheduler_id: _Optional[str] = ..., executors: _Optional[_Iterable[_Union[ExecutorInfo, _Mapping]]] = ..., functions: _Optional[int] = ..., dags: _Optional[int] = ..., pending_calls: _Optional[int] = ..., nodes: _Optional[_Iterable[_Union[NodeInfo, _Mapping]]] = ..., quarantined: _Optional[_Iterable[_Union[QuarantinedFunction, _Mapping]]] = ...) -> None: ...

class FunctionRecord(_message.Message):
    __slots__ = ("digest", "kind", "deleted", "idempotent")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENT_FIELD_NUMBER: _ClassVar[int]
    digest: str
    kind: FunctionKind
    deleted: bool
    idempotent: bool
    def __init__(self, digest: _Optional[str] = ..., kind: _Optional[_Union[FunctionKind, str]] = ..., deleted: _Optional[bool] = ..., idempotent: _Optional[bool] = ...) -> None: ...

class DagRecord(_message.Message):
    __slots__ = ("functions", "connections", "deleted")
    FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    functions: _containers.RepeatedScalarFieldContainer[str]
    connections: _containers.RepeatedCompositeFieldContainer[Edge]
    deleted: bool
    def __init__(self, functions: _Optional[_Iterable[str]] = ..., connections: _Optional[_Iterable[_Union[Edge, _Mapping]]] = ..., deleted: _Optional[bool] = ...) -> None: ...
