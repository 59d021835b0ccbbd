"""What every system's benchmark script shares: its flags, the timing loops, the summary
statistics and the JSON it writes. Standard library only, so it runs in the project's
environment (Cloudburst) and in the peers' environment (Ray, Dask) alike.

Each workload runs its warm-up first, then ``--reps`` repetitions; every figure reported is the
median over the repetitions of that repetition's figure (its p50, its p99, its calls/s...).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

WORKLOADS = ("single", "dag", "fanout", "throughput", "stateful", "state")
STATE_MB_ELEMENTS = 1 << 17  # float64 elements per MB: np.ones(1 << 20) is 8 MB
STATE_WARMUP_READS = 6


def add_flags(parser: argparse.ArgumentParser) -> None:
    """The workload counts; the driver (``bench/run.py``) takes the same flags and passes
    them on to each system's script."""
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"comma-separated subset of {','.join(WORKLOADS)}",
    )
    parser.add_argument("--reps", type=int, default=2, help="repetitions of each workload")
    parser.add_argument("--calls", type=int, default=300, help="sequential calls per repetition")
    parser.add_argument("--warmup", type=int, default=50, help="warm-up calls per workload")
    parser.add_argument("--fanout", type=int, default=100, help="calls in one fan-out")
    parser.add_argument("--fanout-iters", type=int, default=10, help="fan-outs per repetition")
    parser.add_argument("--burst", type=int, default=2000, help="calls in one burst")
    parser.add_argument("--state-mb", type=int, default=8, help="size of the stored value (MB)")
    parser.add_argument("--state-hits", type=int, default=20, help="repeated reads per rep")


COUNT_FLAGS = (
    "reps",
    "calls",
    "warmup",
    "fanout",
    "fanout_iters",
    "burst",
    "state_mb",
    "state_hits",
)


def check_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = sorted(set(args.workloads) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(unknown)}")
    for name in COUNT_FLAGS:
        if getattr(args, name) < (0 if name == "warmup" else 1):
            parser.error(f"--{name.replace('_', '-')} is too small")


def parse_args(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    add_flags(parser)
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here")
    args = parser.parse_args(argv)
    check_flags(parser, args)
    return args


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries only the JSON."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def check(value: Any, expected: Any, what: str) -> None:
    """A benchmark of wrong answers measures nothing: stop if a result is wrong."""
    if value != expected:
        raise RuntimeError(f"{what}: expected {expected!r}, got {value!r}")


def percentile(sorted_samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted samples."""
    rank = max(1, math.ceil(q / 100 * len(sorted_samples)))
    return sorted_samples[rank - 1]


def timed_ms(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return (time.perf_counter() - started) * 1000, value


def _r(value: float) -> float:
    return round(value, 3)


def latency(fn: Callable[[], Any], args: argparse.Namespace, calls: int | None = None) -> dict:
    """``fn`` awaited one call at a time: warm-up, then ``reps`` runs of ``calls`` calls."""
    calls = calls or args.calls
    for _ in range(args.warmup):
        fn()
    p50s, p99s, means = [], [], []
    for _ in range(args.reps):
        samples = sorted(timed_ms(fn)[0] for _ in range(calls))
        p50s.append(statistics.median(samples))
        p99s.append(percentile(samples, 99))
        means.append(statistics.fmean(samples))
    return {
        "p50_ms": _r(statistics.median(p50s)),
        "p99_ms": _r(statistics.median(p99s)),
        "mean_ms": _r(statistics.median(means)),
        "rep_p50_ms": [_r(v) for v in p50s],
        "calls_per_rep": calls,
        "reps": args.reps,
    }


def repeated(fn: Callable[[], Any], args: argparse.Namespace, iters: int, warmup: int) -> dict:
    """A larger operation (``fn`` does the whole thing and returns when it is done)."""
    for _ in range(warmup):
        fn()
    p50s, p99s = [], []
    for _ in range(args.reps):
        samples = sorted(timed_ms(fn)[0] for _ in range(iters))
        p50s.append(statistics.median(samples))
        p99s.append(percentile(samples, 99))
    return {
        "p50_ms": _r(statistics.median(p50s)),
        "p99_ms": _r(statistics.median(p99s)),
        "rep_p50_ms": [_r(v) for v in p50s],
        "iters_per_rep": iters,
        "reps": args.reps,
    }


def throughput(
    submit: Callable[[int], Any], wait: Callable[[Any], None], args: argparse.Namespace
) -> dict:
    """``submit(n)`` starts ``n`` calls at once and returns their handles; ``wait(handles)``
    awaits them all (and checks them). Reports calls/s over submit + wait."""
    wait(submit(min(args.burst, 200)))  # warm-up
    rates, submit_shares = [], []
    for _ in range(args.reps):
        started = time.perf_counter()
        handles = submit(args.burst)
        submitted = time.perf_counter()
        wait(handles)
        elapsed = time.perf_counter() - started
        rates.append(args.burst / elapsed)
        submit_shares.append((submitted - started) / elapsed)
    return {
        "calls_per_s": round(statistics.median(rates), 1),
        "rep_calls_per_s": [round(v, 1) for v in rates],
        "submit_share": _r(statistics.median(submit_shares)),
        "calls": args.burst,
        "reps": args.reps,
    }


def state_access(
    put: Callable[[int], Any], read: Callable[[Any], int], args: argparse.Namespace
) -> dict:
    """Per repetition: store a fresh value (``put(rep)`` returns its handle; timed as put),
    read it once (the miss: nothing has read it yet), then ``state_hits`` more times (hits:
    median). ``read`` returns the ``nbytes`` the function saw."""
    nbytes = args.state_mb * STATE_MB_ELEMENTS * 8
    # Warm-up on a key of its own, read several times so that every worker process has done
    # a first large read (loaded the function, grown its buffers) before the timed misses.
    warm = put(-1)
    for _ in range(STATE_WARMUP_READS):
        check(read(warm), nbytes, "state warm-up")
    puts, misses, hits = [], [], []
    for rep in range(args.reps):
        put_ms, handle = timed_ms(lambda rep=rep: put(rep))
        miss_ms, seen = timed_ms(lambda handle=handle: read(handle))
        check(seen, nbytes, "state miss")
        samples = sorted(
            timed_ms(lambda handle=handle: read(handle))[0] for _ in range(args.state_hits)
        )
        puts.append(put_ms)
        misses.append(miss_ms)
        hits.append(statistics.median(samples))
    return {
        "miss_ms": _r(statistics.median(misses)),
        "hit_p50_ms": _r(statistics.median(hits)),
        "put_ms": _r(statistics.median(puts)),
        "rep_miss_ms": [_r(v) for v in misses],
        "rep_hit_p50_ms": [_r(v) for v in hits],
        "bytes": nbytes,
        "reads_per_rep": args.state_hits,
        "reps": args.reps,
    }


def run(
    system: str,
    version: str,
    plan: dict[str, Callable[[], dict]],
    args: argparse.Namespace,
    extra: dict | None = None,
) -> dict:
    """Runs the chosen workloads of ``plan`` in order and writes the report."""
    results: dict[str, dict] = {}
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    for name in WORKLOADS:
        if name not in args.workloads:
            continue
        log(f"{system}: {name}")
        t0 = time.perf_counter()
        results[name] = plan[name]()
        results[name]["seconds"] = round(time.perf_counter() - t0, 2)
    report = {
        "system": system,
        "version": version,
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "load_avg_before": round(load_before, 2),
        "load_avg_after": round(os.getloadavg()[0], 2),
        "seconds": round(time.perf_counter() - started, 2),
        **(extra or {}),
        "workloads": results,
    }
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    else:
        print(text)
    return report
