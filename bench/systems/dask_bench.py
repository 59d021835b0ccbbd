"""Dask's side of ``make bench``: the same six workloads on a distributed.LocalCluster.

    bench/.venv/bin/python bench/systems/dask_bench.py [--workloads ...] [--out FILE.json]

Runs from the peers' environment (``bench/.venv``; Dask is never a project dependency).
``LocalCluster(n_workers=<cores>, threads_per_worker=1, processes=True)``: one worker process
per core, like our executors. Every submit is ``pure=False``: Dask would otherwise give a
repeated call with the same arguments the previous call's result without running anything.
"""

from __future__ import annotations

import logging
import os

import _harness as h
import distributed
import numpy as np
from distributed import Client, LocalCluster


def incr(x: int) -> int:
    return x + 1


def square(x: int) -> int:
    return x * x


def total(*xs: int) -> int:
    return sum(xs)


def nbytes(arr: np.ndarray) -> int:
    return int(arr.nbytes)


class Counter:
    def __init__(self, start: int = 0) -> None:
        self.total = start

    def run(self, n: int) -> int:
        self.total += n
        return self.total


def plan(client: Client, args) -> dict:
    def call(fn, *xs):
        return client.submit(fn, *xs, pure=False)

    h.check(call(incr, 1).result(), 2, "incr(1)")
    h.check(call(square, call(incr, 1)).result(), 4, "chain(1)")

    def single() -> dict:
        return h.latency(lambda: call(incr, 1).result(), args)

    def dag() -> dict:
        return h.latency(lambda: call(square, call(incr, 1)).result(), args)

    def fanout() -> dict:
        expected = sum(range(1, args.fanout + 1))

        def once() -> None:
            futures = [call(incr, i) for i in range(args.fanout)]
            h.check(call(total, *futures).result(), expected, "fan-out reduce")

        return h.repeated(once, args, args.fanout_iters, warmup=2)

    def throughput() -> dict:
        # The idiomatic batch forms (client.map, client.gather), which favour Dask.
        def wait(futures: list) -> None:
            results = client.gather(futures)
            h.check(sum(results), len(futures) * (len(futures) + 1) // 2, "burst")

        return h.throughput(lambda n: client.map(incr, range(n), pure=False), wait, args)

    def stateful() -> dict:
        counter = client.submit(Counter, 0, actor=True).result()
        counter.run(0).result()
        result = h.latency(lambda: counter.run(1).result(), args)
        h.check(counter.run(0).result(), args.warmup + args.reps * args.calls, "counter")
        return result

    def state() -> dict:
        array = np.ones(args.state_mb * h.STATE_MB_ELEMENTS)
        return h.state_access(
            lambda _rep: client.scatter(array, hash=False),
            lambda future: call(nbytes, future).result(),
            args,
        )

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
    cores = os.cpu_count() or 1
    h.log(f"dask: starting a LocalCluster with {cores} worker processes")
    with (
        LocalCluster(
            n_workers=cores,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        h.run("dask", distributed.__version__, plan(client, args), args, extra={"workers": cores})


if __name__ == "__main__":
    main()
