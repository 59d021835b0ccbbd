from cloudburst_protocol.gen import cache_pb2 as _cache_pb2
from cloudburst_protocol.gen import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CallBatch(_message.Message):
    __slots__ = ("triggers", "cancel")
    TRIGGERS_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    triggers: _containers.RepeatedCompositeFieldContainer[Trigger]
    cancel: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, triggers: _Optional[_Iterable[_Union[Trigger, _Mapping]]] = ..., cancel: _Optional[_Iterable[str]] = ...) -> None: ...

class CallReply(_message.Message):
    __slots__ = ("call_id", "outcome")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    outcome: _common_pb2.Outcome
    def __init__(self, call_id: _Optional[str] = ..., outcome: _Optional[_Union[_common_pb2.Outcome, _Mapping]] = ...) -> None: ...

class ReplyBatch(_message.Message):
    __slots__ = ("replies",)
    REPLIES_FIELD_NUMBER: _ClassVar[int]
    replies: _containers.RepeatedCompositeFieldContainer[CallReply]
    def __init__(self, replies: _Optional[_Iterable[_Union[CallReply, _Mapping]]] = ...) -> None: ...

class DagNode(_message.Message):
    __slots__ = ("function", "digest", "upstream", "downstream", "executor_id", "executor_address")
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    DOWNSTREAM_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_ID_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    function: str
    digest: str
    upstream: _containers.RepeatedScalarFieldContainer[str]
    downstream: _containers.RepeatedScalarFieldContainer[str]
    executor_id: str
    executor_address: str
    def __init__(self, function: _Optional[str] = ..., digest: _Optional[str] = ..., upstream: _Optional[_Iterable[str]] = ..., downstream: _Optional[_Iterable[str]] = ..., executor_id: _Optional[str] = ..., executor_address: _Optional[str] = ...) -> None: ...

class Trigger(_message.Message):
    __slots__ = ("call_id", "scheduler_id", "dag", "nodes", "function", "args", "from_function", "value", "output_key", "consistency", "trace_context", "deadline_ms", "dag_version", "direct", "snapshot", "writes")
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
    SCHEDULER_ID_FIELD_NUMBER: _ClassVar[int]
    DAG_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    FROM_FUNCTION_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_KEY_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    TRACE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    DAG_VERSION_FIELD_NUMBER: _ClassVar[int]
    DIRECT_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    WRITES_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    scheduler_id: str
    dag: str
    nodes: _containers.RepeatedCompositeFieldContainer[DagNode]
    function: str
    args: _containers.MessageMap[str, _common_pb2.ArgList]
    from_function: str
    value: bytes
    output_key: str
    consistency: _common_pb2.Consistency
    trace_context: _containers.ScalarMap[str, str]
    deadline_ms: int
    dag_version: str
    direct: bool
    snapshot: int
    writes: _containers.RepeatedCompositeFieldContainer[_cache_pb2.KeyLattice]
    def __init__(self, call_id: _Optional[str] = ..., scheduler_id: _Optional[str] = ..., dag: _Optional[str] = ..., nodes: _Optional[_Iterable[_Union[DagNode, _Mapping]]] = ..., function: _Optional[str] = ..., args: _Optional[_Mapping[str, _common_pb2.ArgList]] = ..., from_function: _Optional[str] = ..., value: _Optional[bytes] = ..., output_key: _Optional[str] = ..., consistency: _Optional[_Union[_common_pb2.Consistency, str]] = ..., trace_context: _Optional[_Mapping[str, str]] = ..., deadline_ms: _Optional[int] = ..., dag_version: _Optional[str] = ..., direct: _Optional[bool] = ..., snapshot: _Optional[int] = ..., writes: _Optional[_Iterable[_Union[_cache_pb2.KeyLattice, _Mapping]]] = ...) -> None: ...

class RegistryUpdate(_message.Message):
    __slots__ = ("seq", "functions", "dags", "snapshot")
    class FunctionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class DagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SEQ_FIELD_NUMBER: _ClassVar[int]
    FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    DAGS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    functions: _containers.ScalarMap[str, str]
    dags: _containers.ScalarMap[str, str]
    snapshot: bool
    def __init__(self, seq: _Optional[int] = ..., functions: _Optional[_Mapping[str, str]] = ..., dags: _Optional[_Mapping[str, str]] = ..., snapshot: _Optional[bool] = ...) -> None: ...

class UserMessage(_message.Message):
    __slots__ = ("sender", "recipient", "body")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    sender: str
    recipient: str
    body: bytes
    def __init__(self, sender: _Optional[str] = ..., recipient: _Optional[str] = ..., body: _Optional[bytes] = ...) -> None: ...

class PeerMessage(_message.Message):
    __slots__ = ("trigger", "user")
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    trigger: Trigger
    user: UserMessage
    def __init__(self, trigger: _Optional[_Union[Trigger, _Mapping]] = ..., user: _Optional[_Union[UserMessage, _Mapping]] = ...) -> None: ...
