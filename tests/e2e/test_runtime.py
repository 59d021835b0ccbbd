"""Functions, DAGs, classes, state and errors against a real local cluster."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from cloudburst import (
    CloudburstConnection,
    CloudburstReference,
    DagNotFoundError,
    FunctionNotFoundError,
    InvalidArgumentError,
    InvalidDagError,
    KeyNotFoundError,
    RemoteFunctionError,
)

pytestmark = pytest.mark.e2e


def test_function_call_and_replace(cloud: CloudburstConnection, name: str) -> None:
    """A registered function runs remotely; re-registering the name replaces its body."""
    fn = cloud.register(lambda _, x: x + 1, name)
    assert fn(1).get() == 2
    cloud.register(lambda _, x: x * 10, name)
    assert fn(1).get() == 10
    assert cloud.exec_func(name, [3]).get() == 30
    assert cloud.exec_func(name, 4).get() == 40  # a single value is wrapped


def test_list_functions_by_prefix(cloud: CloudburstConnection, name: str) -> None:
    """list(prefix) returns the registered names that start with the prefix."""
    for suffix in ("a", "b"):
        cloud.register(lambda _: None, f"{name}-{suffix}")
    assert cloud.list(name) == [f"{name}-a", f"{name}-b"]
    assert f"{name}-a" in cloud.list()


def test_unknown_function_fails_fast(cloud: CloudburstConnection, name: str) -> None:
    """Calling a function that was never registered raises FunctionNotFoundError at once."""
    started = time.monotonic()
    with pytest.raises(FunctionNotFoundError, match=name):
        cloud.exec_func(name, [1]).get()
    assert time.monotonic() - started < 5


def test_values_round_trip(cloud: CloudburstConnection, name: str) -> None:
    """Arguments and results of many types survive the trip, numpy arrays included."""
    echo = cloud.register(lambda _, x: x, name)
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    for value in (None, "héllo", b"\x00raw", {"a": [1, 2.5, None]}, (1, "two"), 10**30):
        assert echo(value).get() == value
    back = echo(array).get()
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, array)


def test_user_exception_is_typed(cloud: CloudburstConnection, name: str) -> None:
    """A user function's exception keeps its type name, message and remote traceback."""

    def boom(_: Any, x: int) -> None:
        raise ValueError(f"bad value {x}")

    fn = cloud.register(boom, name)
    with pytest.raises(RemoteFunctionError) as caught:
        fn(3).get()
    error = caught.value
    assert error.type_name == "ValueError"
    assert error.message == "bad value 3"
    assert "in boom" in error.remote_traceback
    assert "cloudburst_executor" not in error.remote_traceback
    assert isinstance(error.__cause__, ValueError)


def test_exception_of_unknown_class_keeps_its_name(cloud: CloudburstConnection, name: str) -> None:
    """An exception class the client cannot rebuild still arrives with its name."""

    def boom(_: Any) -> None:
        class LocalError(Exception):
            pass

        raise LocalError("from inside")

    with pytest.raises(RemoteFunctionError, match="LocalError: from inside"):
        cloud.register(boom, name)().get()


def test_state_from_functions_and_client(cloud: CloudburstConnection, name: str) -> None:
    """Functions and the client share the store: put in one, get in the other."""

    def writer(lib: Any, key: str, value: Any) -> bool:
        return bool(lib.put_object(key, value))

    def reader(lib: Any, key: str, missing: str) -> Any:
        return lib.get_object(key), lib.get([key, missing]), lib.get(missing)

    cloud.register(writer, f"{name}-w")
    cloud.register(reader, f"{name}-r")
    assert cloud.exec_func(f"{name}-w", [f"{name}-k", {"n": 1}]).get() is True
    assert cloud.get_object(f"{name}-k") == {"n": 1}
    cloud.put_object(f"{name}-k", [1, 2])
    value, both, missing = cloud.exec_func(f"{name}-r", [f"{name}-k", f"{name}-none"]).get()
    assert value == [1, 2]
    assert both == {f"{name}-k": [1, 2], f"{name}-none": None}
    assert missing is None


def test_missing_and_reserved_keys(cloud: CloudburstConnection, name: str) -> None:
    """A missing key raises KeyNotFoundError (get returns None); reserved keys are refused."""
    with pytest.raises(KeyNotFoundError):
        cloud.get_object(f"{name}-missing")
    assert cloud.get(f"{name}-missing") is None
    with pytest.raises(InvalidArgumentError, match="reserved"):
        cloud.put_object("__cb/fn/x", 1)

    def read_missing(lib: Any) -> Any:
        return lib.get_object("nothing-here-" + name)

    with pytest.raises(KeyNotFoundError, match="nothing-here"):
        cloud.register(read_missing, name)().get()


def test_references_and_futures_as_arguments(cloud: CloudburstConnection, name: str) -> None:
    """A reference is replaced by the stored value and a future by its call's result."""
    cloud.put_object(f"{name}-k", 20)
    cloud.put_object(f"{name}-raw", b"bytes!")
    add = cloud.register(lambda _, a, b: a + b, f"{name}-add")
    assert add(CloudburstReference(f"{name}-k"), 1).get() == 21
    raw = cloud.register(lambda _, b: b, f"{name}-raw")
    assert raw(CloudburstReference(f"{name}-raw", deserialize=False)).get() == b"bytes!"
    first = add(1, 2)
    second = add(first, 10)  # passed on before it is done
    assert second.get() == 13
    assert cloud.get_object(first.obj_id) == 3
    with pytest.raises(KeyNotFoundError, match=f"{name}-nope"):
        add(CloudburstReference(f"{name}-nope"), 1).get()


def test_failed_future_passed_on_fails_fast(cloud: CloudburstConnection, name: str) -> None:
    """A call whose argument is a failed call's future fails with that error, not a hang."""

    def boom(_: Any) -> None:
        raise RuntimeError("upstream broke")

    failed = cloud.register(boom, f"{name}-boom")()
    with pytest.raises(RemoteFunctionError):
        failed.get()
    echo = cloud.register(lambda _, x: x, f"{name}-echo")
    started = time.monotonic()
    with pytest.raises(RemoteFunctionError, match="upstream broke"):
        echo(failed).get()
    assert time.monotonic() - started < 10


def test_dag_chain_direct_response_and_output_key(cloud: CloudburstConnection, name: str) -> None:
    """A chain passes results downstream; direct_response returns the value; the result is
    stored under the call id and the output key."""
    cloud.register(lambda _, a: a + 1, f"{name}-incr")
    cloud.register(lambda _, a: a * a, f"{name}-square")
    dag = f"{name}-dag"
    assert cloud.register_dag(
        dag, [f"{name}-incr", f"{name}-square"], [(f"{name}-incr", f"{name}-square")]
    ) == (True, 0)
    assert cloud.call_dag(dag, {f"{name}-incr": 2}, True) == 9
    future = cloud.call_dag(dag, {f"{name}-incr": [3]}, output_key=f"{name}-out")
    assert future.get() == 16
    assert cloud.get_object(f"{name}-out") == 16
    assert cloud.future(future.obj_id).get(timeout=10) == 16


def test_dag_diamond_argument_order(cloud: CloudburstConnection, name: str) -> None:
    """A function with several upstreams gets its own arguments first, then upstream results
    in the order the DAG lists the functions, whatever the connection order."""
    a, b, c, d = (f"{name}-{x}" for x in "abcd")
    cloud.register(lambda _, x: f"a{x}", a)
    cloud.register(lambda _, x: f"b{x}", b)
    cloud.register(lambda _, x: f"c{x}", c)
    cloud.register(lambda _, *args: list(args), d)
    dag = f"{name}-diamond"
    cloud.register_dag(dag, [a, c, b, d], [(b, d), (a, b), (c, d), (a, c)])
    assert cloud.call_dag(dag, {a: 1, d: ["own"]}).get() == ["own", "ca1", "ba1"]


def test_dag_multiple_sources(cloud: CloudburstConnection, name: str) -> None:
    """Several sources, each with its own arguments, feed one sink."""
    x, y, s = (f"{name}-{v}" for v in ("x", "y", "sum"))
    cloud.register(lambda _, v: v * 2, x)
    cloud.register(lambda _, v: v * 3, y)
    cloud.register(lambda _, p, q: p + q, s)
    cloud.register_dag(f"{name}-dag", [x, y, s], [(x, s), (y, s)])
    assert cloud.call_dag(f"{name}-dag", {x: 1, y: 10}).get() == 32


def test_dag_error_reaches_caller(cloud: CloudburstConnection, name: str) -> None:
    """An exception in the middle of a DAG ends the call with that exception."""

    def fail(_: Any, v: int) -> int:
        raise ZeroDivisionError("mid-dag")

    cloud.register(fail, f"{name}-f")
    cloud.register(lambda _, v: v, f"{name}-g")
    cloud.register_dag(f"{name}-dag", [f"{name}-f", f"{name}-g"], [(f"{name}-f", f"{name}-g")])
    with pytest.raises(RemoteFunctionError, match="ZeroDivisionError: mid-dag"):
        cloud.call_dag(f"{name}-dag", {f"{name}-f": 1}).get()


def test_dag_validation_errors(cloud: CloudburstConnection, name: str) -> None:
    """Invalid DAGs raise a typed error naming the problem, never a truthy value."""
    a, b = f"{name}-a", f"{name}-b"
    cloud.register(lambda _, v: v, a)
    cloud.register(lambda _, v: v, b)
    with pytest.raises(FunctionNotFoundError, match=f"{name}-ghost"):
        cloud.register_dag(f"{name}-1", [a, f"{name}-ghost"], [(a, f"{name}-ghost")])
    with pytest.raises(InvalidDagError, match="cycle"):
        cloud.register_dag(f"{name}-2", [a, b], [(a, b), (b, a)])
    with pytest.raises(InvalidDagError, match="exactly one sink"):
        cloud.register_dag(f"{name}-3", [a, b], [])
    with pytest.raises(InvalidDagError, match="not in the DAG"):
        cloud.register_dag(f"{name}-4", [a], [(a, b)])
    with pytest.raises(InvalidDagError, match="pair"):
        cloud.register_dag(f"{name}-5", [a, b], [(a,)])  # type: ignore[list-item]
    assert f"{name}-2" not in cloud.list_dags(name)


def test_dag_replace_and_delete(cloud: CloudburstConnection, name: str) -> None:
    """Re-registering a DAG replaces it; a deleted DAG cannot be called."""
    a, b = f"{name}-a", f"{name}-b"
    cloud.register(lambda _, v: v + 1, a)
    cloud.register(lambda _, v: v * 2, b)
    dag = f"{name}-dag"
    cloud.register_dag(dag, [a, b], [(a, b)])
    assert cloud.call_dag(dag, {a: 1}).get() == 4
    cloud.register_dag(dag, [b, a], [(b, a)])
    assert cloud.call_dag(dag, {b: 1}).get() == 3
    assert cloud.get_dag(dag) == ([b, a], [(b, a)])
    assert cloud.list_dags(name) == [dag]
    assert cloud.delete_dag(dag) is True
    with pytest.raises(DagNotFoundError):
        cloud.call_dag(dag, {b: 1}).get()
    with pytest.raises(DagNotFoundError):
        cloud.delete_dag(dag)


def test_arguments_for_a_function_outside_the_dag(cloud: CloudburstConnection, name: str) -> None:
    """Arguments for a function that is not in the DAG are refused with a clear error."""
    cloud.register(lambda _, v: v, f"{name}-a")
    cloud.register_dag(f"{name}-dag", [f"{name}-a"], [])
    with pytest.raises(InvalidArgumentError, match="not part of DAG"):
        cloud.call_dag(f"{name}-dag", {f"{name}-a": 1, "other": 2}).get()


class Counter:
    """Seed form: __init__(self, *init_args), run(self, *args)."""

    def __init__(self, start: int) -> None:
        self.count = start

    def run(self, step: int) -> int:
        self.count += step
        return self.count


class LibraryCounter:
    """Original-code form: the user library first in __init__ and run."""

    def __init__(self, cloudburst: Any, start: int) -> None:
        self.count = start
        self.executor = cloudburst.get_id()

    def run(self, cloudburst: Any, step: int) -> tuple[str, int]:
        self.count += step
        return self.executor, self.count


def test_class_state_persists_per_executor(cloud: CloudburstConnection, name: str) -> None:
    """A class is built once per executor; its state carries over between calls."""
    counter = cloud.register((Counter, 100), f"{name}-c")
    results = [counter(1).get() for _ in range(6)]
    assert all(r > 100 for r in results)
    assert max(results) >= 103  # at least one executor kept its count across calls
    lib_counter = cloud.register((LibraryCounter, (0,)), f"{name}-lc")
    seen: dict[str, list[int]] = {}
    for _ in range(6):
        executor, count = lib_counter(1).get()
        seen.setdefault(executor, []).append(count)
    for counts in seen.values():
        assert counts == list(range(1, len(counts) + 1))


def test_messaging_and_ids(cloud: CloudburstConnection, name: str) -> None:
    """get_id names the executor; send to an id and recv there returns (sender, bytes)."""

    def talk(lib: Any) -> tuple[str, str, list[tuple[str, bytes]]]:
        me = lib.get_id()
        lib.send(me, b"hello")
        return me, lib.getid(), lib.recv()

    me, old_name, received = cloud.register(talk, name)().get()
    assert me == old_name
    assert "@127.0.0.1:" in me
    assert received == [(me, b"hello")]


def test_get_timeout_then_result(cloud: CloudburstConnection, name: str) -> None:
    """get(timeout) raises CallTimeoutError while the call runs; a later get() returns it."""
    from cloudburst import CallTimeoutError

    def slow(_: Any) -> str:
        time.sleep(1.0)
        return "late"

    future = cloud.register(slow, name)()
    with pytest.raises(CallTimeoutError):
        future.get(timeout=0.1)
    assert future.get(timeout=30) == "late"


def test_bad_registrations(cloud: CloudburstConnection, name: str) -> None:
    """Registering something that is not a function or (Class, args) fails clearly."""
    with pytest.raises(InvalidArgumentError):
        cloud.register(42, name)
    with pytest.raises(InvalidArgumentError, match="run"):
        cloud.register((dict, ()), name)
    with pytest.raises(InvalidArgumentError):
        cloud.register(lambda _: 1, "")


def test_unknown_consistency_mode_is_refused(cloud: CloudburstConnection, name: str) -> None:
    """An unknown consistency mode fails clearly, not silently; named modes are accepted."""
    from cloudburst import SINGLE

    cloud.register(lambda _, v: v, f"{name}-a")
    cloud.register_dag(f"{name}-dag", [f"{name}-a"], [])
    assert cloud.call_dag(f"{name}-dag", {f"{name}-a": 1}, consistency="normal").get() == 1
    assert cloud.call_dag(f"{name}-dag", {f"{name}-a": 2}, consistency=SINGLE).get() == 2
    with pytest.raises(InvalidArgumentError, match="unknown consistency"):
        cloud.call_dag(f"{name}-dag", {f"{name}-a": 1}, consistency="strongest")


def test_detached_call_read_later_by_id(
    cluster: Any, cloud: CloudburstConnection, name: str
) -> None:
    """A detached call returns at once; its result is read later by id, from another client;
    a detached call of an unknown function fails at submission."""

    def slow(_: Any, x: int) -> int:
        time.sleep(0.3)
        return x * 3

    cloud.register(slow, name)
    future = cloud.exec_func(name, [5], detach=True)
    cloud.close()
    with CloudburstConnection(cluster.scheduler_address) as other:
        assert other.future(future.obj_id).get(timeout=30) == 15
        with pytest.raises(FunctionNotFoundError):
            other.exec_func(f"{name}-missing", [1], detach=True)
        other.register_dag(f"{name}-dag", [name], [])
        dag_future = other.call_dag(f"{name}-dag", {name: 2}, detach=True)
        assert other.future(dag_future.obj_id).get(timeout=30) == 6
