"""Unit tests for DAG validation (cloudburst_scheduler.dags)."""

from __future__ import annotations

import pytest
from cloudburst_protocol.errors import FunctionInUseError, FunctionNotFoundError, InvalidDagError
from cloudburst_scheduler.dags import DagShape, check_deletable, single_function, validate_dag


def test_chain_shape() -> None:
    """A three-function chain has one source, one sink and linear up/downstream maps."""
    shape = validate_dag("chain", ["a", "b", "c"], [("a", "b"), ("b", "c")])
    assert shape.name == "chain"
    assert shape.functions == ("a", "b", "c")
    assert shape.connections == (("a", "b"), ("b", "c"))
    assert shape.sources == ("a",)
    assert shape.sink == "c"
    assert shape.upstream == {"a": (), "b": ("a",), "c": ("b",)}
    assert shape.downstream == {"a": ("b",), "b": ("c",), "c": ()}


def test_diamond_upstream_follows_function_list_order() -> None:
    """A join's upstreams are ordered as the DAG lists functions, not as connections arrive."""
    connections = [("c", "d"), ("a", "c"), ("b", "d"), ("a", "b")]
    shape = validate_dag("diamond", ["a", "b", "c", "d"], connections)
    assert shape.upstream["d"] == ("b", "c")
    assert shape.downstream["a"] == ("b", "c")
    assert shape.sources == ("a",)
    assert shape.sink == "d"
    # The connections keep the order they were given in.
    assert shape.connections == tuple(connections)


def test_diamond_upstream_order_when_list_order_differs_from_names() -> None:
    """Listing 'c' before 'b' puts 'c' first among the sink's upstreams."""
    shape = validate_dag("d2", ["a", "c", "b", "d"], [("b", "d"), ("c", "d"), ("a", "b")])
    assert shape.upstream["d"] == ("c", "b")


def test_multiple_sources() -> None:
    """Several functions without upstreams are all sources, in list order."""
    shape = validate_dag(
        "fan-in", ["z", "y", "x", "sink"], [("x", "sink"), ("z", "sink"), ("y", "sink")]
    )
    assert shape.sources == ("z", "y", "x")
    assert shape.sink == "sink"
    assert shape.upstream["sink"] == ("z", "y", "x")


def test_single_function_dag() -> None:
    """A DAG of one function and no connections is its own source and sink."""
    shape = validate_dag("one", ["only"], [])
    assert shape.sources == ("only",)
    assert shape.sink == "only"
    assert shape.connections == ()
    assert shape.upstream == {"only": ()}
    assert shape.downstream == {"only": ()}


def test_registered_functions_pass() -> None:
    """A DAG whose functions are all registered validates (extra registered names are fine)."""
    shape = validate_dag("ok", ["a", "b"], [("a", "b")], registered={"a", "b", "other"})
    assert shape.sink == "b"


def test_connections_may_be_a_generator() -> None:
    """Connections are consumed from any iterable, e.g. a generator."""
    shape = validate_dag("gen", ["a", "b"], (edge for edge in [("a", "b")]))
    assert shape.connections == (("a", "b"),)


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_empty_name_rejected(name: str) -> None:
    """An empty or blank DAG name raises InvalidDagError."""
    with pytest.raises(InvalidDagError, match="non-empty name"):
        validate_dag(name, ["a"], [])


def test_no_functions_rejected() -> None:
    """A DAG listing no functions raises InvalidDagError naming the DAG."""
    with pytest.raises(InvalidDagError, match="'empty' lists no functions"):
        validate_dag("empty", [], [])


def test_empty_function_name_rejected() -> None:
    """An empty function name in the list raises InvalidDagError."""
    with pytest.raises(InvalidDagError, match="non-empty strings"):
        validate_dag("d", ["a", ""], [])


def test_duplicate_function_rejected() -> None:
    """A function listed twice raises InvalidDagError naming it."""
    with pytest.raises(InvalidDagError, match="lists function 'a' twice"):
        validate_dag("dup", ["a", "b", "a"], [("a", "b")])


def test_unregistered_function_raises_function_not_found() -> None:
    """Unregistered functions raise FunctionNotFoundError naming each missing one."""
    with pytest.raises(FunctionNotFoundError) as info:
        validate_dag("d", ["a", "ghost", "b", "phantom"], [], registered={"a", "b"})
    message = str(info.value)
    assert "'ghost'" in message
    assert "'phantom'" in message
    assert "'a'" not in message
    assert not isinstance(info.value, InvalidDagError)


def test_connection_to_unknown_function_rejected() -> None:
    """A connection naming a function outside the list raises InvalidDagError naming it."""
    with pytest.raises(InvalidDagError, match="names 'nope'"):
        validate_dag("d", ["a", "b"], [("a", "b"), ("b", "nope")])


def test_connection_from_unknown_function_rejected() -> None:
    """An unknown upstream end is reported too."""
    with pytest.raises(InvalidDagError, match="names 'nope'"):
        validate_dag("d", ["a", "b"], [("nope", "b")])


def test_self_loop_rejected() -> None:
    """Connecting a function to itself raises InvalidDagError."""
    with pytest.raises(InvalidDagError, match="'a' is connected to itself"):
        validate_dag("d", ["a", "b"], [("a", "a"), ("a", "b")])


def test_repeated_connection_rejected() -> None:
    """The same connection twice raises InvalidDagError."""
    with pytest.raises(InvalidDagError, match=r"connection \('a', 'b'\) is repeated"):
        validate_dag("d", ["a", "b"], [("a", "b"), ("a", "b")])


def test_cycle_message_shows_path() -> None:
    """A cycle raises InvalidDagError whose message spells out the cycle path."""
    with pytest.raises(InvalidDagError) as info:
        validate_dag("loop", ["a", "b", "c", "d"], [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])
    assert "has a cycle: a -> b -> c -> a" in str(info.value)


def test_cycle_not_reachable_from_first_function() -> None:
    """A cycle downstream of a source is reported starting at the cycle's first node."""
    with pytest.raises(InvalidDagError) as info:
        validate_dag("loop", ["s", "x", "y", "t"], [("s", "x"), ("x", "y"), ("y", "x"), ("y", "t")])
    assert "x -> y -> x" in str(info.value)


def test_no_sink_is_reported_as_cycle() -> None:
    """Zero sinks implies a cycle, which is reported as an InvalidDagError."""
    with pytest.raises(InvalidDagError, match="cycle"):
        validate_dag("ring", ["a", "b"], [("a", "b"), ("b", "a")])


def test_two_sinks_rejected_and_named() -> None:
    """Two functions without downstream raise InvalidDagError naming both sinks."""
    with pytest.raises(InvalidDagError) as info:
        validate_dag("fork", ["a", "b", "c"], [("a", "b"), ("a", "c")])
    message = str(info.value)
    assert "exactly one sink" in message
    assert "it has 2: 'b', 'c'" in message


def test_disconnected_functions_are_two_sinks() -> None:
    """Two functions without any connection are two sinks."""
    with pytest.raises(InvalidDagError, match="it has 2: 'a', 'b'"):
        validate_dag("apart", ["a", "b"], [])


def test_single_function_shape() -> None:
    """single_function() describes a one-function call with an empty DAG name."""
    shape = single_function("square")
    assert shape == DagShape(
        "", ("square",), (), {"square": ()}, {"square": ()}, ("square",), "square"
    )
    assert shape.sink == "square"
    assert shape.sources == ("square",)


def test_deleting_a_function_dags_use_is_refused_naming_them() -> None:
    """check_deletable names every DAG that uses the function, unless forced."""
    dags = {"p2": ["a", "b"], "p1": ["b"], "other": ["c"]}
    with pytest.raises(FunctionInUseError, match=r"'b' is used by DAGs p1, p2; delete them"):
        check_deletable("b", dags, force=False)
    with pytest.raises(FunctionInUseError, match=r"used by DAG p2; delete it"):
        check_deletable("a", dags, force=False)
    check_deletable("b", dags, force=True)
    check_deletable("d", dags, force=False)
