from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NO_ERROR: _ClassVar[ErrorCode]
    FUNC_NOT_FOUND: _ClassVar[ErrorCode]
    NO_RESOURCES: _ClassVar[ErrorCode]
    DAG_ALREADY_EXISTS: _ClassVar[ErrorCode]
    DAG_NOT_FOUND: _ClassVar[ErrorCode]
    EXECUTION_ERROR: _ClassVar[ErrorCode]
    TIMEOUT: _ClassVar[ErrorCode]
    EXECUTOR_DIED: _ClassVar[ErrorCode]
    INVALID_ARGUMENT: _ClassVar[ErrorCode]
    KEY_NOT_FOUND: _ClassVar[ErrorCode]
    SERIALIZATION_ERROR: _ClassVar[ErrorCode]
    INVALID_DAG: _ClassVar[ErrorCode]
    INTERNAL: _ClassVar[ErrorCode]
    UNAVAILABLE: _ClassVar[ErrorCode]
    STALE_LEASE: _ClassVar[ErrorCode]
    SNAPSHOT_EXPIRED: _ClassVar[ErrorCode]
    FUNCTION_QUARANTINED: _ClassVar[ErrorCode]
    CALL_CANCELLED: _ClassVar[ErrorCode]
    FUNCTION_IN_USE: _ClassVar[ErrorCode]
    UNAUTHENTICATED: _ClassVar[ErrorCode]
    PERMISSION_DENIED: _ClassVar[ErrorCode]

class Consistency(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NORMAL: _ClassVar[Consistency]
    SINGLE: _ClassVar[Consistency]
    MULTI: _ClassVar[Consistency]
    REPEATABLE_READ: _ClassVar[Consistency]
NO_ERROR: ErrorCode
FUNC_NOT_FOUND: ErrorCode
NO_RESOURCES: ErrorCode
DAG_ALREADY_EXISTS: ErrorCode
DAG_NOT_FOUND: ErrorCode
EXECUTION_ERROR: ErrorCode
TIMEOUT: ErrorCode
EXECUTOR_DIED: ErrorCode
INVALID_ARGUMENT: ErrorCode
KEY_NOT_FOUND: ErrorCode
SERIALIZATION_ERROR: ErrorCode
INVALID_DAG: ErrorCode
INTERNAL: ErrorCode
UNAVAILABLE: ErrorCode
STALE_LEASE: ErrorCode
SNAPSHOT_EXPIRED: ErrorCode
FUNCTION_QUARANTINED: ErrorCode
CALL_CANCELLED: ErrorCode
FUNCTION_IN_USE: ErrorCode
UNAUTHENTICATED: ErrorCode
PERMISSION_DENIED: ErrorCode
NORMAL: Consistency
SINGLE: Consistency
MULTI: Consistency
REPEATABLE_READ: Consistency

class Reference(_message.Message):
    __slots__ = ("key", "deserialize", "future")
    KEY_FIELD_NUMBER: _ClassVar[int]
    DESERIALIZE_FIELD_NUMBER: _ClassVar[int]
    FUTURE_FIELD_NUMBER: _ClassVar[int]
    key: str
    deserialize: bool
    future: bool
    def __init__(self, key: _Optional[str] = ..., deserialize: _Optional[bool] = ..., future: _Optional[bool] = ...) -> None: ...

class Argument(_message.Message):
    __slots__ = ("value", "ref")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    value: bytes
    ref: Reference
    def __init__(self, value: _Optional[bytes] = ..., ref: _Optional[_Union[Reference, _Mapping]] = ...) -> None: ...

class ArgList(_message.Message):
    __slots__ = ("args",)
    ARGS_FIELD_NUMBER: _ClassVar[int]
    args: _containers.RepeatedCompositeFieldContainer[Argument]
    def __init__(self, args: _Optional[_Iterable[_Union[Argument, _Mapping]]] = ...) -> None: ...

class RemoteError(_message.Message):
    __slots__ = ("code", "type_name", "message", "traceback", "exception")
    CODE_FIELD_NUMBER: _ClassVar[int]
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    EXCEPTION_FIELD_NUMBER: _ClassVar[int]
    code: ErrorCode
    type_name: str
    message: str
    traceback: str
    exception: bytes
    def __init__(self, code: _Optional[_Union[ErrorCode, str]] = ..., type_name: _Optional[str] = ..., message: _Optional[str] = ..., traceback: _Optional[str] = ..., exception: _Optional[bytes] = ...) -> None: ...

class Outcome(_message.Message):
    __slots__ = ("value", "error")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    value: bytes
    error: RemoteError
    def __init__(self, value: _Optional[bytes] = ..., error: _Optional[_Union[RemoteError, _Mapping]] = ...) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
