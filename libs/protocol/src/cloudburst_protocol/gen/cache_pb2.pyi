from cloudburst_protocol.gen import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WatermarkReply(_message.Message):
    __slots__ = ("seq",)
    SEQ_FIELD_NUMBER: _ClassVar[int]
    seq: int
    def __init__(self, seq: _Optional[int] = ...) -> None: ...

class KeyLattice(_message.Message):
    __slots__ = ("key", "lattice", "seq", "bulk", "expire_ms")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LATTICE_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    BULK_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_MS_FIELD_NUMBER: _ClassVar[int]
    key: str
    lattice: bytes
    seq: int
    bulk: str
    expire_ms: int
    def __init__(self, key: _Optional[str] = ..., lattice: _Optional[bytes] = ..., seq: _Optional[int] = ..., bulk: _Optional[str] = ..., expire_ms: _Optional[int] = ...) -> None: ...

class CacheGetRequest(_message.Message):
    __slots__ = ("keys", "wait_ms", "as_of", "known", "bulk_id")
    class KnownEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    KEYS_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    KNOWN_FIELD_NUMBER: _ClassVar[int]
    BULK_ID_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    wait_ms: int
    as_of: int
    known: _containers.ScalarMap[str, int]
    bulk_id: str
    def __init__(self, keys: _Optional[_Iterable[str]] = ..., wait_ms: _Optional[int] = ..., as_of: _Optional[int] = ..., known: _Optional[_Mapping[str, int]] = ..., bulk_id: _Optional[str] = ...) -> None: ...

class CacheGetResponse(_message.Message):
    __slots__ = ("entries", "misses", "unchanged")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    MISSES_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[KeyLattice]
    misses: _containers.RepeatedScalarFieldContainer[str]
    unchanged: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, entries: _Optional[_Iterable[_Union[KeyLattice, _Mapping]]] = ..., misses: _Optional[_Iterable[str]] = ..., unchanged: _Optional[_Iterable[str]] = ...) -> None: ...

class CachePutRequest(_message.Message):
    __slots__ = ("entries", "write_through_only", "bulk_id")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    WRITE_THROUGH_ONLY_FIELD_NUMBER: _ClassVar[int]
    BULK_ID_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[KeyLattice]
    write_through_only: bool
    bulk_id: str
    def __init__(self, entries: _Optional[_Iterable[_Union[KeyLattice, _Mapping]]] = ..., write_through_only: _Optional[bool] = ..., bulk_id: _Optional[str] = ...) -> None: ...

class CachePutResponse(_message.Message):
    __slots__ = ("entries", "resend_inline")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    RESEND_INLINE_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[KeyLattice]
    resend_inline: bool
    def __init__(self, entries: _Optional[_Iterable[_Union[KeyLattice, _Mapping]]] = ..., resend_inline: _Optional[bool] = ...) -> None: ...

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

class WatchKey(_message.Message):
    __slots__ = ("key", "seq")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    key: str
    seq: int
    def __init__(self, key: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("watch", "unwatch", "bulk_id")
    WATCH_FIELD_NUMBER: _ClassVar[int]
    UNWATCH_FIELD_NUMBER: _ClassVar[int]
    BULK_ID_FIELD_NUMBER: _ClassVar[int]
    watch: _containers.RepeatedCompositeFieldContainer[WatchKey]
    unwatch: _containers.RepeatedScalarFieldContainer[str]
    bulk_id: str
    def __init__(self, watch: _Optional[_Iterable[_Union[WatchKey, _Mapping]]] = ..., unwatch: _Optional[_Iterable[str]] = ..., bulk_id: _Optional[str] = ...) -> None: ...

class KeyUpdate(_message.Message):
    __slots__ = ("key", "lattice", "seq", "absent", "watermark", "bulk")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LATTICE_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ABSENT_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    BULK_FIELD_NUMBER: _ClassVar[int]
    key: str
    lattice: bytes
    seq: int
    absent: bool
    watermark: int
    bulk: str
    def __init__(self, key: _Optional[str] = ..., lattice: _Optional[bytes] = ..., seq: _Optional[int] = ..., absent: _Optional[bool] = ..., watermark: _Optional[int] = ..., bulk: _Optional[str] = ...) -> None: ...

class CacheStats(_message.Message):
    __slots__ = ("role", "node_id", "keys", "bytes", "hits", "misses", "evictions", "max_bytes")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    MISSES_FIELD_NUMBER: _ClassVar[int]
    EVICTIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    role: str
    node_id: str
    keys: int
    bytes: int
    hits: int
    misses: int
    evictions: int
    max_bytes: int
    def __init__(self, role: _Optional[str] = ..., node_id: _Optional[str] = ..., keys: _Optional[int] = ..., bytes: _Optional[int] = ..., hits: _Optional[int] = ..., misses: _Optional[int] = ..., evictions: _Optional[int] = ..., max_bytes: _Optional[int] = ...) -> None: ...
