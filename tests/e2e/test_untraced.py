"""Calls and DAGs on a cluster with tracing off, where an executor runs calls that arrive
together as one job on its user thread, and a chain of functions without going back to its
event loop between them: results, argument order, errors and references must be exactly as
on the traced path."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cloudburst import CloudburstConnection, CloudburstReference, RemoteFunctionError
from cloudburst_management import LocalCluster
from conftest import start_cluster

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def untraced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudburstConnection]:
    home: Path = tmp_path_factory.mktemp("untraced")
    cluster: LocalCluster = start_cluster(home, executors=1, CLOUDBURST_TRACING="off")
    with CloudburstConnection(cluster.scheduler_address) as cloud:
        yield cloud
    cluster.down()


def test_a_chain_passes_each_result_on_with_its_own_arguments(
    untraced: CloudburstConnection,
) -> None:
    cloud = untraced
    cloud.register(lambda _, x: x + 1, "c_incr")
    cloud.register(lambda _, k, x: x * k, "c_scale")  # its own argument first, then upstream
    cloud.register(lambda _, x: f"<{x}>", "c_show")
    cloud.register_dag(
        "chain3", ["c_incr", "c_scale", "c_show"], [("c_incr", "c_scale"), ("c_scale", "c_show")]
    )
    for x in range(5):
        result = cloud.call_dag("chain3", {"c_incr": [x], "c_scale": [10]}).get(timeout=30)
        assert result == f"<{(x + 1) * 10}>"


def test_an_error_in_the_middle_of_a_chain_is_the_call_error(
    untraced: CloudburstConnection,
) -> None:
    cloud = untraced

    def picky(_: Any, x: int) -> int:
        if x > 2:
            raise ValueError(f"too big: {x}")
        return x

    cloud.register(lambda _, x: x + 1, "e_incr")
    cloud.register(picky, "e_picky")
    cloud.register(lambda _, x: x * 100, "e_last")
    cloud.register_dag(
        "picky_chain",
        ["e_incr", "e_picky", "e_last"],
        [("e_incr", "e_picky"), ("e_picky", "e_last")],
    )
    assert cloud.call_dag("picky_chain", {"e_incr": [1]}).get(timeout=30) == 200
    with pytest.raises(RemoteFunctionError, match="too big: 5"):
        cloud.call_dag("picky_chain", {"e_incr": [4]}).get(timeout=30)
    assert cloud.call_dag("picky_chain", {"e_incr": [0]}).get(timeout=30) == 100


def test_joins_and_references_still_wait_for_what_they_need(
    untraced: CloudburstConnection,
) -> None:
    cloud = untraced
    cloud.put_object("j_offset", 1000)
    cloud.register(lambda _, x: x + 1, "j_left")
    cloud.register(lambda _, x: x * 2, "j_right")
    cloud.register(lambda _, offset, a, b: offset + a + b, "j_join")
    cloud.register_dag(
        "diamond",
        ["j_left", "j_right", "j_join"],
        [("j_left", "j_join"), ("j_right", "j_join")],
    )
    call = cloud.call_dag(
        "diamond",
        {"j_left": [1], "j_right": [5], "j_join": [CloudburstReference("j_offset")]},
    )
    assert call.get(timeout=30) == 1000 + 2 + 10


def test_calls_that_arrive_together_each_get_their_own_result_or_error(
    untraced: CloudburstConnection,
) -> None:
    def fussy(_: Any, x: int) -> int:
        if x % 7 == 0:
            raise ValueError(f"no multiples of seven: {x}")
        if x == 50:
            sys.exit(3)  # fails its own call only
        return x * 2

    call = untraced.register(fussy, "fussy")
    futures = [call(x) for x in range(1, 301)]
    for x, future in zip(range(1, 301), futures, strict=True):
        if x % 7 == 0 or x == 50:
            with pytest.raises(RemoteFunctionError):
                future.get(timeout=60)
        else:
            assert future.get(timeout=60) == x * 2


def test_call_results_expire_but_output_keys_stay(tmp_path_factory: pytest.TempPathFactory) -> None:
    """With CLOUDBURST_RESULT_TTL=1, a result read by its id works at first and is gone a
    few seconds later; the value stored under the call's output key stays."""
    cluster = start_cluster(tmp_path_factory.mktemp("ttl"), executors=1, CLOUDBURST_RESULT_TTL="1")
    try:
        with CloudburstConnection(cluster.scheduler_address) as cloud:
            cloud.register(lambda _, x: x * 3, "triple")
            cloud.register_dag("just_triple", ["triple"], [])
            first = cloud.call_dag("just_triple", {"triple": [7]}, output_key="kept-result")
            assert first.get(timeout=30) == 21
            assert cloud.future(first.obj_id).get(timeout=10) == 21  # read by id, from the store
            deadline = time.monotonic() + 15
            while cloud.get(first.obj_id) is not None:
                assert time.monotonic() < deadline, "the call's result never expired"
                time.sleep(0.2)
            assert cloud.get_object("kept-result") == 21
    finally:
        cluster.down()
