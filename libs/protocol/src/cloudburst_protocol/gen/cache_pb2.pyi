from cloudburst_protocol.gen import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class KeyLattice(_message.Message):
    __slots__ = ("key", "lattice")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LATTICE_FIELD_NUMBER: _ClassVar[int]
    key: str
    lattice: bytes
    def __init__(self, key: _Optional[str] = ..., lattice: _Optional[bytes] = ...) -> None: ...

class CacheGetRequest(_message.Message):
    __slots__ = ("keys", "wait_ms")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    wait_ms: int
    def __init__(self, keys: _Optional[_Iterable[str]] = ..., wait_ms: _Optional[int] = ...) -> None: ...

class CacheGetResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[KeyLattice]
    def __init__(self, entries: _Optional[_Iterable[_Union[KeyLattice, _Mapping]]] = ...) -> None: ...

class CachePutRequest(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[KeyLattice]
    def __init__(self, entries: _Optional[_Iterable[_Union[KeyLattice, _Mapping]]] = ...) -> None: ...

class CacheDeleteRequest(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, keys: _Optional[_Iterable[str]] = ...) -> None: ...

class ListKeysRequest(_message.Message):
    __slots__ = ("prefix",)
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    def __init__(self, prefix: _Optional[str] = ...) -> None: ...

class ListKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, keys: _Optional[_Iterable[str]] = ...) -> None: ...
