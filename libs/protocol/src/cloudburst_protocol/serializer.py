"""Encoding of Python values on the wire and in the store.

Every encoded value starts with one tag byte naming its encoding, so a reader never guesses:

- ``B`` bytes, as they are;
- ``S`` str, UTF-8;
- ``N`` a numpy array of a plain dtype: a header (dtype string, shape) and the raw buffer;
- ``P`` anything else, pickled (numbers and ``None`` by the standard pickler, everything
  else by cloudpickle; one format, read back by ``pickle.loads``);
- ``E`` the error a call ended with (a ``RemoteError`` message): stored under the call's id
  so that whoever reads the result later gets the error, typed, instead of waiting.

The fast paths skip pickling for the values users pass around most; numpy is imported only
when a value is an array, so the runtime does not depend on it.
"""

from __future__ import annotations

import pickle
import struct
import sys
from typing import Any

import cloudpickle

from cloudburst_protocol.errors import SerializationError, from_remote_error
from cloudburst_protocol.gen import common_pb2

TAG_BYTES = 0x42  # "B"
TAG_STR = 0x53  # "S"
TAG_NUMPY = 0x4E  # "N"
TAG_PICKLE = 0x50  # "P"
TAG_ERROR = 0x45  # "E"

_SCALARS = frozenset({int, float, bool, complex, type(None)})
_HEADER = struct.Struct("<BB")  # dtype length, ndim
_DIM = struct.Struct("<Q")


def dumps(value: Any) -> bytes:
    """Encode ``value``; raises :class:`SerializationError` if it cannot be encoded."""
    kind = type(value)
    if kind is bytes:
        return b"B" + bytes(value)
    if kind is str:
        return b"S" + str(value).encode("utf-8", "surrogatepass")
    if kind in _SCALARS:  # the C pickler: a tenth of cloudpickle's set-up for a number
        return b"P" + pickle.dumps(value, protocol=5)
    if kind.__module__ == "numpy" and kind.__name__ == "ndarray":
        encoded = _dump_array(value)
        if encoded is not None:
            return encoded
    try:
        pickled: bytes = cloudpickle.dumps(value, protocol=5)
        return b"P" + pickled
    except Exception as exc:  # cloudpickle raises many types for unpicklable values
        raise SerializationError(
            f"cannot serialize a value of type {kind.__qualname__}: {exc}"
        ) from exc


def dump_error(error: common_pb2.RemoteError) -> bytes:
    """Encode a call's error; :func:`loads` of the result raises it."""
    return b"E" + error.SerializeToString()


def loads(data: bytes | memoryview, *, owned: bool = False) -> Any:
    """Decode bytes made by :func:`dumps` (raises the stored error for :func:`dump_error`).
    ``owned``: ``data`` is a writable buffer the caller gives away, so an array may use it
    instead of a copy."""
    if not data:
        raise SerializationError("cannot deserialize an empty buffer")
    tag = data[0]
    try:
        if tag == TAG_BYTES:
            return bytes(data[1:])
        if tag == TAG_STR:
            return bytes(data[1:]).decode("utf-8", "surrogatepass")
        if tag == TAG_PICKLE:
            return cloudpickle.loads(data[1:])
        if tag == TAG_NUMPY:
            return _load_array(data, owned)
        if tag == TAG_ERROR:
            error = common_pb2.RemoteError.FromString(bytes(data[1:]))
    except SerializationError:
        raise
    except Exception as exc:
        raise SerializationError(f"cannot deserialize value: {type(exc).__name__}: {exc}") from exc
    if tag == TAG_ERROR:
        raise from_remote_error(error)
    raise SerializationError(f"unknown value encoding tag 0x{tag:02x}")


def payload(data: bytes) -> bytes:
    """The user-visible raw form of an encoded value (``deserialize=False`` references).

    Bytes and strings come back as the bytes the user stored; other values as their encoding.
    """
    if data and data[0] in (TAG_BYTES, TAG_STR):
        return bytes(data[1:])
    return bytes(data)


_PLAIN_KINDS = frozenset("biufcSU")  # numbers and fixed-width strings: the buffer says it all


def _dump_array(array: Any) -> bytes | None:
    """The fast path for arrays of plain numbers; anything else (objects, records, dates)
    returns ``None`` and is pickled."""
    if array.dtype.kind not in _PLAIN_KINDS or array.dtype.fields or array.ndim > 255:
        return None
    dtype = array.dtype.str.encode("ascii")
    if len(dtype) > 255:
        return None
    if not array.flags.c_contiguous:
        array = array.copy(order="C")
    parts = [b"N", _HEADER.pack(len(dtype), array.ndim), dtype]
    parts.extend(_DIM.pack(dim) for dim in array.shape)
    parts.append(array.data.cast("B") if array.size else b"")
    return b"".join(parts)


def _load_array(data: bytes | memoryview, owned: bool = False) -> Any:
    import numpy as np  # noqa: PLC0415 - numpy is optional: imported only for arrays

    view = memoryview(data)
    dtype_len, ndim = _HEADER.unpack_from(view, 1)
    offset = 1 + _HEADER.size
    dtype = np.dtype(bytes(view[offset : offset + dtype_len]).decode("ascii"))
    offset += dtype_len
    shape = tuple(_DIM.unpack_from(view, offset + i * _DIM.size)[0] for i in range(ndim))
    offset += ndim * _DIM.size
    array = np.frombuffer(view[offset:], dtype=dtype).reshape(shape)
    # Users may mutate what they read: a writable buffer of their own, or a copy.
    return array if owned and array.flags.writeable else array.copy()


__all__ = [
    "TAG_BYTES",
    "TAG_ERROR",
    "TAG_NUMPY",
    "TAG_PICKLE",
    "TAG_STR",
    "dump_error",
    "dumps",
    "loads",
    "payload",
]

if sys.byteorder != "little":  # pragma: no cover - the header format assumes it
    raise ImportError("cloudburst_protocol.serializer supports little-endian machines only")
