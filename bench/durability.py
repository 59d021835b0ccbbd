"""The cost of each durability mode of the embedded store, side by side in one run.

    .venv/bin/python bench/durability.py [--quick] [--recovery-keys N] [--recovery-mb N]
                                         [--out bench/results/durability.json]

For each ``CLOUDBURST_FSYNC`` mode (off, everysec, always) it starts its own local cluster
on free ports and measures:

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


def timed(fn: Callable[[int], Any], n: int, warmup: int) -> dict[str, float]:
    for i in range(warmup):
        fn(-1 - i)
    samples = []
    for i in range(n):
        started = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - started) * 1000)
    return summary(samples)


def put_request(key: str, value: bytes) -> cache_pb2.CachePutRequest:
    return cache_pb2.CachePutRequest(
        entries=[cache_pb2.KeyLattice(key=key, lattice=encode(LWW(time.time_ns(), value)))]
    )


def sdk_throughput(address: str, threads: int, per_thread: int) -> float:
    def run(n: int) -> None:
        with CloudburstConnection(address) as cloud:
            for i in range(per_thread):
                cloud.put_object(f"tp{n}-{i}", b"x" * 100)

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return round(threads * per_thread / (time.perf_counter() - started), 1)


async def authority_throughput(address: str, in_flight: int, per_task: int) -> float:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = cache_pb2_grpc.CacheStub(channel)

        async def task(n: int) -> None:
            for i in range(per_task):
                await stub.Put(put_request(f"at{n}-{i}", b"x" * 100), timeout=30)

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
    channel = grpc.insecure_channel(address)
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

        started = time.perf_counter()
        await asyncio.gather(*(writer(n) for n in range(64)))
        throughput = round(64 * per_task / (time.perf_counter() - started), 1)
        return {
            "backend_put_us": {k.replace("_ms", "_us"): v for k, v in result.items()},
            "backend_put_throughput": throughput,
            "backend_commits": disk.commits if disk is not None else 0,
        }
    finally:
        await backend.close()
        sys.setswitchinterval(interval)


def measure_mode(mode: str, args: argparse.Namespace, home: Path) -> dict[str, Any]:
    os.environ["CLOUDBURST_FSYNC"] = mode
    cluster = LocalCluster(
        home=home,
        executors=1,
        scheduler_port=free_port(),
        management_port=free_port(),
        cache_port=free_port(),
    )
    cluster.up(timeout=90)
    address = f"127.0.0.1:{cluster.cache_port}"
    try:
        results: dict[str, Any] = asyncio.run(backend_costs(mode, home / "backend", args.puts * 5))
        with CloudburstConnection(cluster.scheduler_address) as cloud:
            results["sdk_put"] = timed(
                lambda i: cloud.put_object(f"s{i}", b"x" * 100), args.puts, args.puts // 10
            )
        results["sdk_put_throughput"] = sdk_throughput(
            cluster.scheduler_address, args.threads, args.puts // args.threads
        )
        channel = grpc.insecure_channel(address)
        stub = cache_pb2_grpc.CacheStub(channel)
        results["authority_put"] = timed(
            lambda i: stub.Put(put_request(f"a{i}", b"x" * 100), timeout=10),
            args.puts,
            args.puts // 10,
        )
        results["get"] = timed(
            lambda i: stub.Get(cache_pb2.CacheGetRequest(keys=["a1"]), timeout=10),
            args.puts,
            args.puts // 10,
        )
        channel.close()
        results["authority_put_throughput"] = asyncio.run(
            authority_throughput(address, args.in_flight, args.puts // args.in_flight)
        )
        if mode != "off":
            results["recovery"] = [recovery(cluster, address, args.recovery_keys, 100)]
            if args.recovery_mb:
                results["recovery"].append(recovery(cluster, address, args.recovery_mb, 1 << 20))
        return results
    finally:
        cluster.down()


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
    parser.add_argument("--recovery-keys", type=int, default=100_000)
    parser.add_argument("--recovery-mb", type=int, default=0, help="also N values of 1 MB")
    parser.add_argument("--modes", default=",".join(MODES), help="e.g. off,everysec")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if args.quick:
        args.puts, args.recovery_keys = 400, 10_000
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }
    with tempfile.TemporaryDirectory(prefix="cb-durability-") as tmp:
        for mode in modes:
            report[mode] = measure_mode(mode, args, Path(tmp) / mode)
            print(mode, json.dumps(report[mode]), flush=True)
    if "off" in report:
        report["ratios"] = ratios(report)
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
