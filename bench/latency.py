"""Latency of the core paths on a local cluster: one function call and the two-function DAG
``square(incr(x))``, each awaited one at a time. Prints p50/p99 and writes JSON.

    .venv/bin/python bench/latency.py [--calls N] [--executors N] [--out FILE.json]

Starts its own cluster on free ports (so it never touches yours) and stops it afterwards.
The full comparison with other systems is ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloudburst import CloudburstConnection
from cloudburst_management import LocalCluster


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def measure(fn: Callable[[], Any], calls: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3),
        "mean_ms": round(statistics.fmean(samples), 3),
        "calls": calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--executors", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        # The SDK finds the cluster's token where `cbctl up` leaves it: in its home.
        os.environ["CLOUDBURST_HOME"] = home
        cluster = LocalCluster(
            home=Path(home),
            executors=args.executors,
            scheduler_port=free_port(),
            management_port=free_port(),
            cache_port=free_port(),
        )
        with cluster, CloudburstConnection(cluster.scheduler_address) as cloud:
            incr = cloud.register(lambda _, a: a + 1, "incr")
            cloud.register(lambda _, a: a * a, "square")
            cloud.register_dag("chain", ["incr", "square"], [("incr", "square")])
            results = {
                "single_call": measure(lambda: incr(1).get(), args.calls, args.warmup),
                "dag_two_functions": measure(
                    lambda: cloud.call_dag("chain", {"incr": 1}).get(), args.calls, args.warmup
                ),
            }
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "executors": args.executors,
        "results": results,
    }
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
