"""Consistency modes under concurrent writers: anomalies counted, and each mode's latency.

    .venv/bin/python bench/consistency.py [--calls 100] [--out bench/results/consistency.json]

Starts its own two-node local cluster (one executor per node, spread placement, so the two
functions of a call run on different nodes), then for each mode (NORMAL, REPEATABLE_READ,
MULTI = causal):

- repeatable read: a DAG whose two functions each read one key while a writer keeps
  changing it; an anomaly is a call whose two reads differ;
- causal: a writer posts, then replies to its post; a reader reads the post, then the reply;
  an anomaly is a reply newer than the post the reader saw (a reply without its post);
- latency: a two-function DAG (no sleeps, no writers) that reads one key in each function,
  p50/p99.

Anomalies must be zero in the snapshot modes; NORMAL shows that they happen without them.
A report, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloudburst import MULTI, NORMAL, REPEATABLE_READ, CloudburstConnection
from cloudburst_management import LocalCluster

MODES = {"NORMAL": NORMAL, "REPEATABLE_READ": REPEATABLE_READ, "CAUSAL (MULTI)": MULTI}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Writer:
    """A client writing in a loop on its own thread until stopped (at most 120 s)."""

    def __init__(self, address: str, step: Callable[[CloudburstConnection, int], None]) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(address, step), daemon=True)

    def _run(self, address: str, step: Callable[[CloudburstConnection, int], None]) -> None:
        deadline = time.monotonic() + 120
        with CloudburstConnection(address) as cloud:
            i = 0
            while not self._stop.is_set() and time.monotonic() < deadline:
                i += 1
                step(cloud, i)

    def __enter__(self) -> Writer:
        self._thread.start()
        time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def first(lib: Any, key: str) -> list[Any]:
    seen = lib.get_object(key)
    time.sleep(0.005)
    return [key, seen]


def second(lib: Any, previous: list[Any]) -> list[Any]:
    key, seen = previous
    return [seen, lib.get_object(key)]


def look(lib: Any, key: str) -> str:
    lib.get_object(key)
    return key


def look_again(lib: Any, key: str) -> Any:
    return lib.get_object(key)


def reader(lib: Any, post: str, reply: str) -> list[int]:
    seen_post = lib.get_object(post)
    time.sleep(0.005)
    return [seen_post, lib.get_object(reply)]


def run(calls: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        # The SDK finds the cluster's token where `cbctl up` leaves it: in its home.
        os.environ["CLOUDBURST_HOME"] = home
        os.environ["CLOUDBURST_PLACEMENT"] = "spread"
        os.environ["CLOUDBURST_TRACING"] = "off"
        cluster = LocalCluster(
            home=Path(home),
            executors=1,
            nodes=2,
            scheduler_port=free_port(),
            management_port=free_port(),
            cache_port=free_port(),
        )
        with cluster, CloudburstConnection(cluster.scheduler_address, timeout=60) as cloud:
            address = cluster.scheduler_address
            cloud.register(first, "first")
            cloud.register(second, "second")
            cloud.register_dag("twice", ["first", "second"], [("first", "second")])
            cloud.register(look, "look")
            cloud.register(look_again, "look_again")
            cloud.register_dag("quiet", ["look", "look_again"], [("look", "look_again")])
            cloud.register(reader, "reader")
            cloud.register_dag("causal", ["reader"], [])
            cloud.put_object("k", 0)
            cloud.put_object("quiet", 0)
            cloud.put_object("post", 0)
            cloud.put_object("reply", 0)
            report: dict[str, Any] = {}
            for label, mode in MODES.items():
                rr = 0
                with Writer(address, lambda c, i: c.put_object("k", i)):
                    for _ in range(calls):
                        a, b = cloud.call_dag("twice", {"first": "k"}, consistency=mode).get()
                        rr += a != b

                def post_then_reply(c: CloudburstConnection, i: int) -> None:
                    c.put_object("post", i)
                    c.put_object("reply", i)

                causal = 0
                with Writer(address, post_then_reply):
                    for _ in range(calls):
                        post, reply = cloud.call_dag(
                            "causal", {"reader": ["post", "reply"]}, consistency=mode
                        ).get()
                        causal += reply > post
                samples = []
                for _ in range(calls):
                    started = time.perf_counter()
                    cloud.call_dag("quiet", {"look": "quiet"}, consistency=mode).get()
                    samples.append((time.perf_counter() - started) * 1000)
                samples.sort()
                report[label] = {
                    "repeatable_read_anomalies": rr,
                    "causal_anomalies": causal,
                    "calls_each": calls,
                    "dag_p50_ms": round(statistics.median(samples), 3),
                    "dag_p99_ms": round(samples[max(0, int(len(samples) * 0.99) - 1)], 3),
                }
            return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100, help="calls per mode and check")
    parser.add_argument("--out", type=Path, default=None, help="write the report as JSON here")
    args = parser.parse_args()
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cores": os.cpu_count(),
        "setup": "2 nodes x 1 executor, spread placement (each DAG crosses nodes), tracing off",
        "modes": run(args.calls),
    }
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
