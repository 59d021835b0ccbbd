"""Large values between the processes of one host go through the bulk directory (shared
memory) instead of gRPC; with it off they still arrive, inline. Real local clusters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cloudburst import CloudburstConnection, CloudburstReference
from cloudburst_management import LocalCluster
from conftest import start_cluster

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["shared", "off"])
def bulk_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalCluster, Path | None]]:
    home = tmp_path_factory.mktemp("bulk")
    directory = home / "bulk" if request.param == "shared" else None
    setting = str(directory) if directory is not None else "off"
    cluster = start_cluster(home, executors=2, CLOUDBURST_BULK_DIR=setting)
    yield cluster, directory
    cluster.down()
    if directory is not None:  # every kept file is released when the services stop
        assert sorted(p.name for p in directory.iterdir()) == ["id"]


def test_large_values_arrive_intact_and_each_reader_gets_its_own(
    bulk_cluster: tuple[LocalCluster, Path | None],
) -> None:
    cluster, directory = bulk_cluster
    array = np.arange(1 << 18, dtype=np.float64)  # 2 MB: above the bulk threshold
    with CloudburstConnection(cluster.scheduler_address) as cloud:
        cloud.put_object("big", array)

        def scribble(_: Any, a: np.ndarray) -> float:
            total = float(a.sum())
            a[:] = -1.0  # must not reach the next reader
            return total

        scribbler = cloud.register(scribble, "scribble")
        expected = float(array.sum())
        results = [scribbler(CloudburstReference("big")).get(timeout=30) for _ in range(6)]
        assert results == [expected] * 6
        assert np.array_equal(cloud.get_object("big"), array)
        if directory is not None:
            kept = [p.name for p in directory.iterdir() if p.name.startswith("k-")]
            assert kept, "the value never went through the bulk directory"


def test_a_large_put_goes_as_a_file_when_the_scheduler_shares_the_directory(
    bulk_cluster: tuple[LocalCluster, Path | None],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    cluster, directory = bulk_cluster
    mine = directory if directory is not None else tmp_path / "client-only"
    monkeypatch.setenv("CLOUDBURST_BULK_DIR", str(mine))
    array = np.arange(1 << 18, dtype=np.float64) * 3
    with CloudburstConnection(cluster.scheduler_address) as cloud:
        for attempt in range(2):  # the second put knows whether to try a file at all
            cloud.put_object(f"put-{attempt}", array + attempt)
            assert np.array_equal(cloud.get_object(f"put-{attempt}"), array + attempt)
        refused = cloud._bulk_refused
    # With a shared directory the file was taken; otherwise the scheduler refused it, the
    # value went inline, and the client removed its file.
    assert refused == (directory is None)
    assert not [p for p in mine.iterdir() if p.name.startswith("t-")]
