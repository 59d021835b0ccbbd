"""The cost of each durability mode of the embedded store, side by side in one run.

    .venv/bin/python bench/durability.py [--quick] [--recovery-keys N] [--recovery-mb N]
                                         [--out bench/results/durability.json]

It starts one local cluster per ``CLOUDBURST_FSYNC`` mode (off, everysec, always) on free
ports, all at once, and takes the measurements round the modes in turn (``--rounds``), so
a noisy machine weighs on every mode alike:

- ``sdk_put``: ``put_object`` of a 100-byte value from one client (client → scheduler →
  storage), p50/p99;
- ``sdk_put_throughput``: the same from several client threads at once, puts per second;
- ``authority_put``: one ``Put`` RPC straight to the storage process, p50/p99;
- ``authority_put_throughput``: many ``Put`` RPCs in flight at once (asyncio), puts per
  second — where group commit shows;
- ``get``: one ``Get`` RPC straight to the storage (served from memory in every mode);
- ``backend_put`` / ``backend_put_throughput``: the embedded backend in this process (no
  RPC: just the store and its disk), one writer, then 64 writers at once;
- ``recovery`` (not for off): N keys of 100 bytes, then ``kill -9`` of the storage: seconds
  until the first read succeeds (supervisor delay and process start included) and the
  storage's own load time (from its log); the same for ``--recovery-mb`` of 1 MB values.

A report, not a test: numbers vary on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
from cloudburst import CloudburstConnection
from cloudburst_cache.backends.memory import MemoryBackend
from cloudburst_cache.persistence import DiskLog
from cloudburst_lattices import LWW, encode
from cloudburst_management import LocalCluster
from cloudburst_protocol import auth, config
from cloudburst_protocol.auth import service_credentials
from cloudburst_protocol.channels import aio_channel, sync_channel
from cloudburst_protocol.gen import cache_pb2, cache_pb2_grpc

MODES = ("off", "everysec", "always")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def summary(samples_ms: list[float]) -> dict[str, float]:
    samples_ms.sort()
    return {
        "p50_ms": round(statistics.median(samples_ms), 3),
        "p99_ms": round(samples_ms[max(0, int(len(samples_ms) * 0.99) - 1)], 3),
        "n": len(samples_ms),
    }


def put_request(key: str, value: bytes) -> cache_pb2.CachePutRequest:
    return cache_pb2.CachePutRequest(
        entries=[cache_pb2.KeyLattice(key=key, lattice=encode(LWW(time.time_ns(), value)))]
    )


def sdk_throughput(address: str, threads: int, per_thread: int, round_: int = 0) -> float:
    def run(n: int) -> None:
        with CloudburstConnection(address) as cloud:
            for i in range(per_thread):
                cloud.put_object(f"tp{round_}-{n}-{i}", b"x" * 100)

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return round(threads * per_thread / (time.perf_counter() - started), 1)


async def authority_throughput(address: str, in_flight: int, per_task: int) -> float:
    async with aio_channel(address, service_credentials()) as channel:
        stub = cache_pb2_grpc.CacheStub(channel)

        tag = time.perf_counter_ns()

        async def task(n: int) -> None:
            for i in range(per_task):
                await stub.Put(put_request(f"at{tag}-{n}-{i}", b"x" * 100), timeout=30)

        await task(-1)
        started = time.perf_counter()
        await asyncio.gather(*(task(n) for n in range(in_flight)))
        return round(in_flight * per_task / (time.perf_counter() - started), 1)


def fill(stub: cache_pb2_grpc.CacheStub, keys: int, size: int, batch: int) -> None:
    for start in range(0, keys, batch):
        entries = [
            cache_pb2.KeyLattice(key=f"r{i}", lattice=encode(LWW(1, os.urandom(size))))
            for i in range(start, min(keys, start + batch))
        ]
        stub.Put(cache_pb2.CachePutRequest(entries=entries), timeout=300)


def recovery(cluster: LocalCluster, address: str, keys: int, size: int) -> dict[str, Any]:
    """Writes ``keys`` values of ``size`` bytes, kills the storage, times the first read."""
    channel = sync_channel(address, service_credentials())
    stub = cache_pb2_grpc.CacheStub(channel)
    fill(stub, keys, size, batch=max(1, min(500, (4 << 20) // size)))
    info = cluster.status()
    assert info is not None
    victim = next(s for s in info.services if s.name == "storage")
    os.kill(victim.pid, signal.SIGKILL)
    killed = time.perf_counter()
    deadline = killed + 600
    while True:
        try:
            reply = stub.Get(cache_pb2.CacheGetRequest(keys=[f"r{keys - 1}"]), timeout=5)
            if reply.entries:
                break
        except grpc.RpcError:
            pass
        if time.perf_counter() > deadline:
            raise RuntimeError("the storage did not come back")
        time.sleep(0.01)
    first_read = time.perf_counter() - killed
    channel.close()
    log = (cluster.home / "logs" / "storage.log").read_text(errors="replace")
    loads = re.findall(r'"storage recovered".*?"seconds": ([0-9.]+)', log)
    loads = loads or re.findall(r'seconds"?[:=] ?([0-9.]+).*storage recovered', log)
    return {
        "keys": keys,
        "value_bytes": size,
        "total_mb": round(keys * size / (1 << 20), 1),
        "first_read_after_kill_s": round(first_read, 3),
        "storage_load_s": float(loads[-1]) if loads else None,
    }


async def backend_costs(mode: str, directory: Path, puts: int) -> dict[str, Any]:
    """The embedded backend alone: put latency (one writer) and throughput (64 writers)."""
    disk = None if mode == "off" else DiskLog(directory, mode)
    backend = MemoryBackend(disk=disk)
    interval = sys.getswitchinterval()  # the store may shorten it: not for the clients here
    await backend.start()
    try:
        value = encode(LWW(1, b"x" * 100))
        samples = []
        for i in range(puts):
            started = time.perf_counter()
            await backend.put(f"b{i}", value)
            samples.append((time.perf_counter() - started) * 1000)
        result = summary(samples)
        result = {k: (round(v * 1000, 1) if k != "n" else v) for k, v in result.items()}
        per_task = max(1, puts // 64)

        async def writer(n: int) -> None:
            for i in range(per_task):
                await backend.put(f"c{n}-{i}", value)

        commits = disk.commits if disk is not None else 0
        started = time.perf_counter()
        await asyncio.gather(*(writer(n) for n in range(64)))
        throughput = round(64 * per_task / (time.perf_counter() - started), 1)
        commits = (disk.commits if disk is not None else 0) - commits
        return {
            "backend_put_us": {k.replace("_ms", "_us"): v for k, v in result.items()},
            "backend_put_throughput": throughput,
            "backend_puts_per_commit": round(64 * per_task / commits, 1) if commits else 0,
        }
    finally:
        await backend.close()
        sys.setswitchinterval(interval)


def start(mode: str, home: Path) -> LocalCluster:
    os.environ["CLOUDBURST_FSYNC"] = mode
    cluster = LocalCluster(
        home=home,
        executors=1,
        scheduler_port=free_port(),
        management_port=free_port(),
        cache_port=free_port(),
    )
    cluster.up(timeout=90)
    return cluster


def samples(fn: Callable[[int], Any], n: int, offset: int) -> list[float]:
    taken = []
    for i in range(offset, offset + n):
        started = time.perf_counter()
        fn(i)
        taken.append((time.perf_counter() - started) * 1000)
    return taken


def one_round(
    mode: str,
    cluster: LocalCluster,
    cloud: CloudburstConnection,
    stub: cache_pb2_grpc.CacheStub,
    r: int,
    args: argparse.Namespace,
    latency: dict[str, list[float]],
    rates: dict[str, list[float]],
) -> None:
    n = max(1, args.puts // args.rounds)
    at = r * n
    value = b"x" * 100
    get = cache_pb2.CacheGetRequest(keys=["a1"])
    latency.setdefault("sdk_put", []).extend(
        samples(lambda i: cloud.put_object(f"s{i}", value), n, at)
    )
    latency.setdefault("authority_put", []).extend(
        samples(lambda i: stub.Put(put_request(f"a{i}", value), timeout=10), n, at)
    )
    latency.setdefault("get", []).extend(samples(lambda i: stub.Get(get, timeout=10), n, at))
    rates.setdefault("sdk_put_throughput", []).append(
        sdk_throughput(cluster.scheduler_address, args.threads, max(1, n // args.threads), r)
    )
    address = f"127.0.0.1:{cluster.cache_port}"
    per_task = max(1, n // args.in_flight)
    rates.setdefault("authority_put_throughput", []).append(
        asyncio.run(authority_throughput(address, args.in_flight, per_task))
    )


def measure(modes: list[str], args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Every mode's cluster runs at once and the measurements go round the modes in turn,
    ``args.rounds`` times, so a noisy neighbour weighs on every mode alike."""
    backend: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    for run in range(2):
        for mode in modes:  # in-process first, alternating too
            got = asyncio.run(backend_costs(mode, tmp / mode / f"backend{run}", args.puts))
            backend[mode].append(got)
    results: dict[str, dict[str, Any]] = {}
    for mode, runs in backend.items():
        results[mode] = {
            "backend_put_us": {
                "p50_us": statistics.median(r["backend_put_us"]["p50_us"] for r in runs)
            },
            "backend_put_throughput": statistics.median(r["backend_put_throughput"] for r in runs),
            "backend_puts_per_commit": max(r["backend_puts_per_commit"] for r in runs),
        }
    clusters = {mode: start(mode, tmp / mode / "cluster") for mode in modes}
    try:
        latency: dict[str, dict[str, list[float]]] = {m: {} for m in modes}
        rates: dict[str, dict[str, list[float]]] = {m: {} for m in modes}
        conns = {m: CloudburstConnection(c.scheduler_address) for m, c in clusters.items()}
        channels = {
            m: sync_channel(f"127.0.0.1:{c.cache_port}", service_credentials())
            for m, c in clusters.items()
        }
        stubs = {m: cache_pb2_grpc.CacheStub(ch) for m, ch in channels.items()}
        for mode in modes:  # warm up
            cloud, stub = conns[mode], stubs[mode]
            samples(lambda i: cloud.put_object(f"w{i}", b"x" * 100), 100, 0)  # noqa: B023
            samples(lambda i: stub.Put(put_request(f"w{i}", b"x" * 100)), 100, 0)  # noqa: B023
        for r in range(args.rounds):
            for mode in modes:
                one_round(
                    mode, clusters[mode], conns[mode], stubs[mode], r, args,
                    latency[mode], rates[mode],
                )  # fmt: skip
        for mode in modes:
            conns[mode].close()
            channels[mode].close()
            for name, taken in latency[mode].items():
                results[mode][name] = summary(taken)
            for name, of_rounds in rates[mode].items():
                results[mode][name] = round(statistics.median(of_rounds), 1)
        for mode in modes:
            if mode != "off":
                cluster = clusters[mode]
                address = f"127.0.0.1:{cluster.cache_port}"
                results[mode]["recovery"] = [recovery(cluster, address, args.recovery_keys, 100)]
                if args.recovery_mb:
                    big = recovery(cluster, address, args.recovery_mb, 1 << 20)
                    results[mode]["recovery"].append(big)
            print(mode, json.dumps(results[mode]), flush=True)
    finally:
        for cluster in clusters.values():
            cluster.down()
    return results


def ratios(report: dict[str, Any]) -> dict[str, float]:
    off = report["off"]
    out: dict[str, float] = {}
    for mode in ("everysec", "always"):
        if mode not in report:
            continue
        got = report[mode]
        for name in ("sdk_put", "authority_put"):
            out[f"{mode}_{name}_p50_vs_off"] = round(got[name]["p50_ms"] / off[name]["p50_ms"], 2)
        out[f"{mode}_backend_put_p50_vs_off"] = round(
            got["backend_put_us"]["p50_us"] / off["backend_put_us"]["p50_us"], 2
        )
        for name in ("sdk_put_throughput", "authority_put_throughput", "backend_put_throughput"):
            out[f"{mode}_{name}_vs_off"] = round(got[name] / off[name], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts (a smoke run)")
    parser.add_argument("--puts", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=10, help="turns round the modes")
    parser.add_argument("--recovery-keys", type=int, default=100_000)
    parser.add_argument("--recovery-mb", type=int, default=0, help="also N values of 1 MB")
    parser.add_argument("--modes", default=",".join(MODES), help="e.g. off,everysec")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if args.quick:
        args.puts, args.recovery_keys, args.rounds = 400, 10_000, 4
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }
    # One admin token and cluster secret for every cluster of the run: the SDK presents the
    # token, and the direct calls to the storage the secret (only services may call it).
    os.environ.setdefault(config.TOKEN_ENV, auth.new_token())
    os.environ.setdefault(config.CLUSTER_SECRET_ENV, auth.new_token())
    with tempfile.TemporaryDirectory(prefix="cb-durability-") as tmp:
        report.update(measure(modes, args, Path(tmp)))
    if "off" in report:
        report["ratios"] = ratios(report)
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
