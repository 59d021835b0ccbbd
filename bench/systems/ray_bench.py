"""Ray's side of ``make bench``: the same six workloads on a local Ray instance.

    bench/.venv/bin/python bench/systems/ray_bench.py [--workloads ...] [--out FILE.json]

Runs from the peers' environment (``bench/.venv``; Ray is never a project dependency).
``ray.init(num_cpus=<cores>, include_dashboard=False)``: what a user gets on one machine.
"""

from __future__ import annotations

import os

import _harness as h
import numpy as np
import ray


@ray.remote
def incr(x: int) -> int:
    return x + 1


@ray.remote
def square(x: int) -> int:
    return x * x


@ray.remote
def total(*xs: int) -> int:
    return sum(xs)


@ray.remote
def nbytes(arr: np.ndarray) -> int:
    return int(arr.nbytes)


@ray.remote
class Counter:
    def __init__(self, start: int) -> None:
        self.total = start

    def run(self, n: int) -> int:
        self.total += n
        return self.total


def plan(args) -> dict:
    h.check(ray.get(incr.remote(1)), 2, "incr(1)")
    h.check(ray.get(square.remote(incr.remote(1))), 4, "chain(1)")

    def single() -> dict:
        return h.latency(lambda: ray.get(incr.remote(1)), args)

    def dag() -> dict:
        return h.latency(lambda: ray.get(square.remote(incr.remote(1))), args)

    def fanout() -> dict:
        expected = sum(range(1, args.fanout + 1))

        def once() -> None:
            refs = [incr.remote(i) for i in range(args.fanout)]
            h.check(ray.get(total.remote(*refs)), expected, "fan-out reduce")

        return h.repeated(once, args, args.fanout_iters, warmup=2)

    def throughput() -> dict:
        def wait(refs: list) -> None:
            h.check(sum(ray.get(refs)), len(refs) * (len(refs) + 1) // 2, "burst")

        return h.throughput(lambda n: [incr.remote(i) for i in range(n)], wait, args)

    def stateful() -> dict:
        counter = Counter.remote(0)
        ray.get(counter.run.remote(0))
        result = h.latency(lambda: ray.get(counter.run.remote(1)), args)
        h.check(ray.get(counter.run.remote(0)), args.warmup + args.reps * args.calls, "counter")
        ray.kill(counter)
        return result

    def state() -> dict:
        array = np.ones(args.state_mb * h.STATE_MB_ELEMENTS)
        return h.state_access(
            lambda _rep: ray.put(array), lambda ref: ray.get(nbytes.remote(ref)), args
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
    h.log(f"ray: starting a local instance with {cores} CPUs")
    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
    try:
        h.run("ray", ray.__version__, plan(args), args, extra={"workers": cores})
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
