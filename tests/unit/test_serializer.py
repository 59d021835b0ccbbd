"""Unit tests for the value serializer (cloudburst_protocol.serializer)."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from cloudburst_protocol import serializer
from cloudburst_protocol.errors import (
    CloudburstError,
    DagNotFoundError,
    FunctionNotFoundError,
    RemoteFunctionError,
    SerializationError,
    to_remote_error,
)
from cloudburst_protocol.gen import common_pb2
from hypothesis import given
from hypothesis import strategies as st

# -- tags -------------------------------------------------------------------------------------


def test_tag_constants_are_the_documented_letters() -> None:
    """The tag constants are the ASCII letters B, S, N, P, E."""
    assert (
        bytes(
            [
                serializer.TAG_BYTES,
                serializer.TAG_STR,
                serializer.TAG_NUMPY,
                serializer.TAG_PICKLE,
                serializer.TAG_ERROR,
            ]
        )
        == b"BSNPE"
    )


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        (b"raw", b"B"),
        (b"", b"B"),
        ("text", b"S"),
        ("", b"S"),
        (None, b"P"),
        (42, b"P"),
        ({"a": 1}, b"P"),
        (bytearray(b"x"), b"P"),
        (np.arange(3), b"N"),
    ],
)
def test_first_byte_is_the_tag(value: Any, tag: bytes) -> None:
    """Each kind of value is encoded under its documented tag byte."""
    assert serializer.dumps(value)[:1] == tag


def test_bytes_and_str_are_stored_verbatim_after_the_tag() -> None:
    """Bytes follow the tag as they are; strings as UTF-8."""
    assert serializer.dumps(b"\x00\xff") == b"B\x00\xff"
    assert serializer.dumps("héllo") == b"S" + "héllo".encode()


def test_str_subclass_is_pickled_and_keeps_its_type() -> None:
    """A str subclass is not flattened to str: it is pickled and comes back as itself."""

    class Name(str):
        __slots__ = ()

    encoded = serializer.dumps(Name("bob"))
    assert encoded[:1] == b"P"
    decoded = serializer.loads(encoded)
    assert decoded == "bob"
    assert type(decoded).__name__ == "Name"


# -- round trips ------------------------------------------------------------------------------


@given(st.binary())
def test_bytes_round_trip(value: bytes) -> None:
    """Any bytes value comes back equal and of type bytes."""
    decoded = serializer.loads(serializer.dumps(value))
    assert type(decoded) is bytes
    assert decoded == value


@given(st.text(alphabet=st.characters(exclude_categories=())))
def test_str_round_trip_including_surrogates(value: str) -> None:
    """Any str, lone surrogates included, comes back equal."""
    decoded = serializer.loads(serializer.dumps(value))
    assert type(decoded) is str
    assert decoded == value


@pytest.mark.parametrize(
    "value",
    [
        "\U0001f600 grinning",  # non-BMP
        "\U00010348\U0010ffff",
        "\ud800",  # lone high surrogate
        "x\udfffy",  # lone low surrogate
        "\ud83d\ude00",  # a surrogate pair spelled as two code points
        "\x00nul",
    ],
)
def test_str_round_trip_examples(value: str) -> None:
    """Non-BMP characters and lone surrogates survive a round trip unchanged."""
    assert serializer.loads(serializer.dumps(value)) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        0,
        -1,
        2**100,
        3.5,
        True,
        {"a": [1, 2, {"b": (3, None)}]},
        [b"x", "y", 1],
        {1, 2, 3},
        (),
    ],
)
def test_python_values_round_trip(value: Any) -> None:
    """Plain Python values round trip through the pickle path with their types."""
    decoded = serializer.loads(serializer.dumps(value))
    assert decoded == value
    assert type(decoded) is type(value)


def test_lambda_round_trip() -> None:
    """A lambda (closure included) is cloudpickled and still works after decoding."""
    offset = 10
    fn = serializer.loads(serializer.dumps(lambda x: x * 2 + offset))
    assert fn(4) == 18


def test_unpicklable_value_raises_serialization_error() -> None:
    """A value cloudpickle cannot handle raises SerializationError naming its type."""
    import threading

    with pytest.raises(SerializationError, match="lock"):
        serializer.dumps(threading.Lock())


# -- numpy ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.int64).reshape(3, 4),
        np.linspace(0, 1, 7, dtype=np.float32),
        np.array([True, False, True]),
        np.array([1 + 2j, -3j], dtype=np.complex128),
        np.arange(8, dtype=np.uint8).reshape(2, 2, 2),
        np.arange(5, dtype=">i4"),  # non-native byte order
        np.array(["ab", "c"]),
        np.array([b"ab", b"c"]),
        np.array([1.5, -2.0], dtype=np.float16),
        np.array(3.25),  # 0-d
        np.array(7, dtype=np.int8),  # 0-d integer
        np.zeros(0),  # empty 1-d
    ],
    ids=lambda a: f"{a.dtype.str}-{a.shape}",
)
def test_numpy_round_trip(array: Any) -> None:
    """Plain-dtype arrays use the N tag and come back with the same dtype, shape, values."""
    encoded = serializer.dumps(array)
    assert encoded[:1] == b"N"
    decoded = serializer.loads(encoded)
    assert type(decoded) is np.ndarray
    assert decoded.dtype == array.dtype
    assert decoded.shape == array.shape
    np.testing.assert_array_equal(decoded, array)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(24).reshape(4, 6)[:, ::2],
        np.arange(24).reshape(4, 6).T,
        np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
        np.arange(10)[::-1],
    ],
    ids=["strided", "transposed", "fortran", "reversed"],
)
def test_numpy_non_contiguous_round_trip(array: Any) -> None:
    """Non C-contiguous arrays are encoded by value and decode to equal arrays."""
    assert not array.flags.c_contiguous
    decoded = serializer.loads(serializer.dumps(array))
    assert decoded.shape == array.shape
    np.testing.assert_array_equal(decoded, array)


def test_decoded_array_is_writable_copy() -> None:
    """A decoded array is writable and independent of the encoded buffer."""
    encoded = serializer.dumps(np.zeros(3))
    decoded = serializer.loads(encoded)
    assert decoded.flags.writeable
    decoded[0] = 5.0
    np.testing.assert_array_equal(serializer.loads(encoded), np.zeros(3))


def test_object_array_falls_back_to_pickle() -> None:
    """An object-dtype array is pickled (tag P) and still round trips."""
    array = np.array([1, "x", None], dtype=object)
    encoded = serializer.dumps(array)
    assert encoded[:1] == b"P"
    decoded = serializer.loads(encoded)
    assert decoded.dtype == object
    assert list(decoded) == [1, "x", None]


def test_numpy_scalar_is_pickled() -> None:
    """A numpy scalar is not an ndarray: it is pickled and keeps its type."""
    value = np.float32(1.5)
    encoded = serializer.dumps(value)
    assert encoded[:1] == b"P"
    decoded = serializer.loads(encoded)
    assert type(decoded) is np.float32
    assert decoded == value


@pytest.mark.parametrize("shape", [(0, 3), (2, 0), (3, 0, 2)])
def test_empty_multidim_array_round_trip(shape: tuple[int, ...]) -> None:
    """A multi-dimensional array with a zero-length dimension round trips with its shape."""
    array = np.zeros(shape)
    decoded = serializer.loads(serializer.dumps(array))
    assert decoded.shape == shape


@pytest.mark.parametrize("dtype", ["M8[D]", "m8[s]"])
def test_datetime_array_round_trip(dtype: str) -> None:
    """datetime64 and timedelta64 arrays round trip."""
    array = np.array([1, 2], dtype=dtype)
    decoded = serializer.loads(serializer.dumps(array))
    assert decoded.dtype == array.dtype
    np.testing.assert_array_equal(decoded, array)


def test_structured_array_round_trip() -> None:
    """A structured (record) array keeps its field names and values."""
    array = np.array([(1, 2.5), (3, 4.5)], dtype=[("a", "<i4"), ("b", "<f8")])
    decoded = serializer.loads(serializer.dumps(array))
    assert decoded.dtype == array.dtype
    assert decoded["b"].tolist() == [2.5, 4.5]


# -- payload ----------------------------------------------------------------------------------


def test_payload_of_bytes_and_str_is_the_raw_value() -> None:
    """payload() strips the tag from bytes and strings."""
    assert serializer.payload(serializer.dumps(b"abc")) == b"abc"
    assert serializer.payload(serializer.dumps("é")) == "é".encode()
    assert serializer.payload(serializer.dumps(b"")) == b""


def test_payload_of_other_values_is_the_full_encoding() -> None:
    """payload() of a pickled or numpy value is its whole encoding, tag included."""
    for value in (42, np.arange(3)):
        encoded = serializer.dumps(value)
        assert serializer.payload(encoded) == encoded


def test_payload_of_empty_buffer_is_empty() -> None:
    """payload() of an empty buffer is empty rather than an error."""
    assert serializer.payload(b"") == b""


# -- load errors ------------------------------------------------------------------------------


def test_loads_empty_buffer() -> None:
    """Decoding an empty buffer raises SerializationError."""
    with pytest.raises(SerializationError, match="empty"):
        serializer.loads(b"")


def test_loads_unknown_tag() -> None:
    """An unknown tag raises SerializationError naming the tag in hex."""
    with pytest.raises(SerializationError, match="0x5a"):
        serializer.loads(b"Zwhatever")


def test_loads_truncated_pickle() -> None:
    """A truncated pickle raises SerializationError, not a pickle error."""
    encoded = serializer.dumps({"key": list(range(50))})
    with pytest.raises(SerializationError):
        serializer.loads(encoded[: len(encoded) // 2])


def test_loads_tag_only_pickle() -> None:
    """A pickle tag with no body raises SerializationError."""
    with pytest.raises(SerializationError):
        serializer.loads(b"P")


@pytest.mark.parametrize("cut", [2, 5, 20, -3])
def test_loads_truncated_array(cut: int) -> None:
    """A truncated numpy encoding raises SerializationError."""
    encoded = serializer.dumps(np.arange(6, dtype=np.int64).reshape(2, 3))
    with pytest.raises(SerializationError):
        serializer.loads(encoded[:cut])


def test_loads_garbage_error_record() -> None:
    """An error tag followed by bytes that are not a RemoteError raises SerializationError."""
    with pytest.raises(SerializationError):
        serializer.loads(b"E\xff\xff\xff\xff")


def test_serialization_error_is_not_a_pickle_error() -> None:
    """The error raised for a bad pickle is a CloudburstError, chained to the cause."""
    with pytest.raises(SerializationError) as info:
        serializer.loads(b"Pnot a pickle")
    assert isinstance(info.value, CloudburstError)
    assert isinstance(info.value.__cause__, pickle.UnpicklingError | EOFError | ValueError)


# -- stored errors ----------------------------------------------------------------------------


def test_dump_error_has_error_tag() -> None:
    """dump_error() output starts with the E tag."""
    error = common_pb2.RemoteError(code=common_pb2.FUNC_NOT_FOUND, message="no f")
    assert serializer.dump_error(error)[:1] == b"E"


def test_dump_error_function_not_found_loads_as_typed_error() -> None:
    """A stored FUNC_NOT_FOUND error is raised as FunctionNotFoundError on loads."""
    error = common_pb2.RemoteError(code=common_pb2.FUNC_NOT_FOUND, message="function 'f' is gone")
    with pytest.raises(FunctionNotFoundError, match="function 'f' is gone"):
        serializer.loads(serializer.dump_error(error))


def test_dump_error_dag_not_found_loads_as_typed_error() -> None:
    """A stored DAG_NOT_FOUND error is raised as DagNotFoundError on loads."""
    error = common_pb2.RemoteError(code=common_pb2.DAG_NOT_FOUND, message="no dag")
    with pytest.raises(DagNotFoundError, match="no dag"):
        serializer.loads(serializer.dump_error(error))


def test_dump_error_execution_error_keeps_details() -> None:
    """A stored EXECUTION_ERROR raises RemoteFunctionError with type, message and traceback."""
    error = common_pb2.RemoteError(
        code=common_pb2.EXECUTION_ERROR,
        type_name="ZeroDivisionError",
        message="division by zero",
        traceback='Traceback (most recent call last):\n  File "user.py", line 3, in f\n',
    )
    with pytest.raises(RemoteFunctionError) as info:
        serializer.loads(serializer.dump_error(error))
    raised = info.value
    assert raised.type_name == "ZeroDivisionError"
    assert raised.message == "division by zero"
    assert raised.remote_traceback == error.traceback
    assert raised.cause is None
    assert "user.py" in str(raised)


def test_dump_error_of_real_exception_keeps_cause() -> None:
    """A user exception stored with dump_error comes back as the cause of RemoteFunctionError."""
    try:
        raise KeyError("missing")
    except KeyError as exc:
        encoded = serializer.dump_error(to_remote_error(exc))
    with pytest.raises(RemoteFunctionError) as info:
        serializer.loads(encoded)
    assert info.value.type_name == "KeyError"
    assert isinstance(info.value.cause, KeyError)
    assert info.value.__cause__ is info.value.cause
