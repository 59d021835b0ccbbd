"""Cloudburst's side of ``make bench``: the six workloads on a local cluster of its own.

    .venv/bin/python bench/systems/cloudburst_bench.py [--workloads ...] [--out FILE.json]

Runs from the project's environment (``.venv``), as a user of the SDK would. Starts a cluster
with one executor per core on free ports in a temporary home (never touching a cluster you
run) and stops it afterwards. Tracing follows ``CLOUDBURST_TRACING`` as for any cluster: the
driver runs this once with it off (the headline) and once with it on.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from pathlib import Path

import _harness as h
import numpy as np
from cloudburst import CloudburstConnection
from cloudburst.shared.reference import CloudburstReference
from cloudburst_management import LocalCluster
from cloudburst_protocol import tracing

REPO = Path(__file__).resolve().parents[2]


class Counter:
    """The stateful workload's class: each executor builds one and keeps it."""

    def __init__(self, start: int) -> None:
        self.total = start

    def run(self, n: int) -> int:
        self.total += n
        return self.total


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def git_version() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def plan(cloud: CloudburstConnection, args) -> dict:
    incr = cloud.register(lambda _, x: x + 1, "incr")
    cloud.register(lambda _, x: x * x, "square")
    total = cloud.register(lambda _, *xs: sum(xs), "total")
    cloud.register_dag("chain", ["incr", "square"], [("incr", "square")])
    h.check(incr(1).get(), 2, "incr(1)")
    h.check(cloud.call_dag("chain", {"incr": 1}).get(), 4, "chain(1)")

    def single() -> dict:
        return h.latency(lambda: incr(1).get(), args)

    def dag() -> dict:
        return h.latency(lambda: cloud.call_dag("chain", {"incr": 1}).get(), args)

    def fanout() -> dict:
        # What a user writes: start the calls, then a reduce that takes their futures as
        # arguments (the runtime resolves them on the executor, not on the client).
        expected = sum(range(1, args.fanout + 1))

        def once() -> None:
            futures = [incr(i) for i in range(args.fanout)]
            h.check(total(*futures).get(), expected, "fan-out reduce")

        return h.repeated(once, args, args.fanout_iters, warmup=2)

    def throughput() -> dict:
        def wait(futures: list) -> None:
            h.check(sum(f.get() for f in futures), len(futures) * (len(futures) + 1) // 2, "burst")

        return h.throughput(lambda n: [incr(i) for i in range(n)], wait, args)

    def stateful() -> dict:
        counter = cloud.register((Counter, (0,)), "counter")
        result = h.latency(lambda: counter(1).get(), args)
        # One instance per executor, so the value depends on where a call runs; an instance
        # that kept its state has counted far past 1.
        h.check(counter(0).get() >= 2, True, "the counter keeps its state between calls")
        return result

    def state() -> dict:
        nbytes = cloud.register(lambda _, arr: int(arr.nbytes), "nbytes")
        array = np.ones(args.state_mb * h.STATE_MB_ELEMENTS)

        def put(rep: int) -> str:
            key = f"bench-state-{rep}"
            cloud.put_object(key, array)
            return key

        return h.state_access(put, lambda key: nbytes(CloudburstReference(key)).get(), args)

    return {
        "single": single,
        "dag": dag,
        "fanout": fanout,
        "throughput": throughput,
        "stateful": stateful,
        "state": state,
    }


def main() -> None:
    args = h.parse_args(__doc__.splitlines()[0])
    executors = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="cloudburst-bench-") as home:
        # The SDK finds the cluster's token where `cbctl up` leaves it: in its home.
        os.environ["CLOUDBURST_HOME"] = home
        cluster = LocalCluster(
            home=Path(home),
            executors=executors,
            scheduler_port=free_port(),
            management_port=free_port(),
            cache_port=free_port(),
        )
        h.log(f"cloudburst: starting a local cluster with {executors} executors")
        with cluster, CloudburstConnection(cluster.scheduler_address) as cloud:
            h.run(
                "cloudburst",
                git_version(),
                plan(cloud, args),
                args,
                extra={"executors": executors, "tracing": tracing.enabled()},
            )


if __name__ == "__main__":
    main()
