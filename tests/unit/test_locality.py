"""Unit tests for the scheduler's view of cached data (cloudburst_scheduler.placement.Locality)."""

from __future__ import annotations

from cloudburst_scheduler.placement import KEYS_PER_FUNCTION, ExecutorView, Locality, Placement


def test_new_locality_knows_nothing() -> None:
    """A new Locality has no nodes, no function keys and no bytes anywhere."""
    locality = Locality()
    assert locality.nodes == {}
    assert locality.keys_of(["f"]) == set()
    assert locality.bytes_by_node(["k"]) == {}


def test_full_report_replaces_what_a_node_holds() -> None:
    """A full report replaces the node's previous contents entirely."""
    locality = Locality()
    locality.report("n1", True, {"a": 1, "b": 2}, [])
    locality.report("n1", True, {"c": 3}, [])
    assert locality.nodes == {"n1": {"c": 3}}


def test_delta_report_adds_and_drops() -> None:
    """A delta report adds held keys (updating sizes) and removes dropped ones."""
    locality = Locality()
    locality.report("n1", True, {"a": 1, "b": 2}, [])
    locality.report("n1", False, {"b": 20, "c": 3}, ["a", "never-held"])
    assert locality.nodes == {"n1": {"b": 20, "c": 3}}


def test_delta_report_for_unknown_node_creates_it() -> None:
    """A delta from a node not yet known starts its contents from that delta."""
    locality = Locality()
    locality.report("n9", False, {"k": 4}, ["x"])
    assert locality.nodes == {"n9": {"k": 4}}


def test_reports_are_per_node() -> None:
    """A report about one node leaves the others as they were."""
    locality = Locality()
    locality.report("n1", True, {"a": 1}, [])
    locality.report("n2", True, {"a": 5}, [])
    locality.report("n2", False, {}, ["a"])
    locality.report("n1", True, {"b": 2}, [])
    assert locality.nodes == {"n1": {"b": 2}, "n2": {}}


def test_forget_node() -> None:
    """forget_node removes everything known about a node; unknown nodes are ignored."""
    locality = Locality()
    locality.report("n1", True, {"a": 1}, [])
    locality.report("n2", True, {"a": 2}, [])
    locality.forget_node("n1")
    locality.forget_node("nope")
    assert locality.nodes == {"n2": {"a": 2}}
    assert locality.bytes_by_node(["a"]) == {"n2": 2}


def test_note_reads_and_keys_of() -> None:
    """keys_of returns the union of the keys the named functions read."""
    locality = Locality()
    locality.note_reads("f", ["a", "b"])
    locality.note_reads("g", ["b", "c"])
    locality.note_reads("f", ["d"])
    assert locality.keys_of(["f"]) == {"a", "b", "d"}
    assert locality.keys_of(["f", "g"]) == {"a", "b", "c", "d"}
    assert locality.keys_of(["unknown"]) == set()
    assert locality.keys_of([]) == set()


def test_note_reads_keeps_most_recent_keys_per_function() -> None:
    """Only the KEYS_PER_FUNCTION most recently read keys of a function are remembered."""
    locality = Locality()
    keys = [f"k{i}" for i in range(KEYS_PER_FUNCTION + 5)]
    locality.note_reads("f", keys)
    assert locality.keys_of(["f"]) == set(keys[5:])


def test_rereading_a_key_makes_it_recent() -> None:
    """A key read again is kept over keys read after its first read."""
    locality = Locality()
    locality.note_reads("f", [f"k{i}" for i in range(KEYS_PER_FUNCTION)])
    locality.note_reads("f", ["k0"])  # now the most recent
    locality.note_reads("f", ["new"])  # pushes out the oldest, which is k1
    remembered = locality.keys_of(["f"])
    assert len(remembered) == KEYS_PER_FUNCTION
    assert "k0" in remembered
    assert "k1" not in remembered
    assert "new" in remembered


def test_limit_is_per_function() -> None:
    """One function's reads do not push out another function's keys."""
    locality = Locality()
    locality.note_reads("g", ["keep"])
    locality.note_reads("f", [f"k{i}" for i in range(KEYS_PER_FUNCTION * 2)])
    assert locality.keys_of(["g"]) == {"keep"}
    assert len(locality.keys_of(["f"])) == KEYS_PER_FUNCTION


def test_bytes_by_node_sums_wanted_keys() -> None:
    """bytes_by_node sums, per node, the sizes of the wanted keys it holds."""
    locality = Locality()
    locality.report("n1", True, {"a": 10, "b": 20, "other": 1000}, [])
    locality.report("n2", True, {"b": 5}, [])
    locality.report("n3", True, {"other": 7}, [])
    assert locality.bytes_by_node(["a", "b", "missing"]) == {"n1": 30, "n2": 5, "n3": 0}


def test_bytes_by_node_counts_duplicate_keys_once() -> None:
    """A key named twice among the wanted keys counts once."""
    locality = Locality()
    locality.report("n1", True, {"a": 10}, [])
    assert locality.bytes_by_node(["a", "a"]) == {"n1": 10}


def test_bytes_by_node_empty_for_no_keys() -> None:
    """With no keys wanted, bytes_by_node is an empty dict even when nodes hold data."""
    locality = Locality()
    locality.report("n1", True, {"a": 10}, [])
    assert locality.bytes_by_node([]) == {}
    assert locality.bytes_by_node(set()) == {}


def test_bytes_by_node_follows_drops() -> None:
    """A key reported dropped no longer counts towards its node."""
    locality = Locality()
    locality.report("n1", True, {"a": 10, "b": 1}, [])
    locality.report("n1", False, {}, ["a"])
    assert locality.bytes_by_node(["a", "b"]) == {"n1": 1}


def test_locality_steers_placement_to_data() -> None:
    """A function's recent reads, held on one node, steer placement to that node's executor."""
    locality = Locality()
    locality.report("n1", True, {"small": 1}, [])
    locality.report("n2", True, {"big": 1000}, [])
    locality.note_reads("f", ["big", "small"])
    local = locality.bytes_by_node(locality.keys_of(["f"]))
    views = [ExecutorView("e1", 0, "n1"), ExecutorView("e2", 0, "n2")]
    placement = Placement()
    assert {placement.choose(views, local) for _ in range(4)} == {"e2"}
    locality.forget_node("n2")
    local = locality.bytes_by_node(locality.keys_of(["f"]))
    assert {placement.choose(views, local) for _ in range(4)} == {"e1"}
