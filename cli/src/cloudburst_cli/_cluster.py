"""The local cluster: ``cbctl up``, ``down``, ``status`` and ``logs``."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections import deque
from pathlib import Path
from typing import Annotated, Any

import typer
from cloudburst_management import ClusterInfo, LocalCluster, cluster_status
from cloudburst_protocol.errors import CloudburstError
from rich.table import Table

from cloudburst_cli._client import AddressOption, connect, settings
from cloudburst_cli._output import console, errors, fail, use_json, waiting
from cloudburst_cli._tls import ensure_local_tls

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        envvar="CLOUDBURST_HOME",
        help="Where the local cluster keeps its state and logs.",
        show_default="~/.cloudburst",
    ),
]


def _services_table(info: ClusterInfo) -> Table:
    table = Table(title=f"Cloudburst cluster — scheduler at {info.scheduler_address}")
    for column in ("service", "state", "pid", "address", "restarts", "last exit"):
        table.add_column(column)
    now = time.time()
    for s in info.services:
        color = {"running": "green", "failed": "red", "backoff": "red"}.get(s.state, "yellow")
        state = s.state
        if s.state == "backoff" and s.next_restart_at:
            state += f" (next start in {max(0.0, s.next_restart_at - now):.1f} s)"
        table.add_row(
            s.name, f"[{color}]{state}[/]", str(s.pid), s.address, str(s.restarts), s.last_exit
        )
    return table


def _quarantine_table(info: ClusterInfo) -> Table:
    table = Table(title="Quarantined functions (register one again to lift it)")
    for column in ("function", "last exit", "tried again in"):
        table.add_column(column)
    now = time.time()
    for q in info.quarantined:
        table.add_row(q.function, q.reason, f"{max(0.0, q.until - now):.0f} s")
    return table


def up(
    executors: Annotated[
        int | None,
        typer.Option(
            "--executors",
            "-e",
            min=1,
            help="Executor processes per node.",
            show_default="one per core",
        ),
    ] = None,
    nodes: Annotated[
        int,
        typer.Option(
            "--nodes",
            min=1,
            help="Nodes, each a cache with its own executors (locality is real between them).",
        ),
    ] = 1,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the cluster.")] = 60.0,
    tls: Annotated[
        bool,
        typer.Option(
            "--tls",
            help="Encrypt every connection: make a private CA and certificates under "
            "$CLOUDBURST_HOME/tls (mutual TLS between services and clients).",
        ),
    ] = False,
    home: HomeOption = None,
) -> None:
    """Start a local cluster (storage, scheduler, management; per node a cache and executors)
    and wait until it is ready."""
    cluster = LocalCluster(home=home, executors=executors, nodes=nodes)
    certificates = ensure_local_tls(cluster.home) if tls else None
    if certificates is not None:
        os.environ.update(certificates.service_env())
    try:
        with errors.status("starting the cluster…") as spinner:
            result = cluster.up(timeout=timeout, progress=lambda m: spinner.update(m + "…"))
    except CloudburstError as exc:
        raise fail(str(exc)) from None
    if result.already_running:
        console.print("[yellow]a cluster is already running[/]")
    console.print(_services_table(result.info))
    console.print(f"logs: {cluster.log_dir}")
    if certificates is not None:
        exports = " ".join(f"{k}={v}" for k, v in certificates.client_env().items())
        console.print(f"TLS on; cbctl finds the certificates, other clients set: {exports}")


def down(home: HomeOption = None) -> None:
    """Stop the local cluster and every process it started."""
    cluster = LocalCluster(home=home, executors=1)
    try:
        with errors.status("stopping the cluster…"):
            stopped = cluster.down()
    except CloudburstError as exc:
        raise fail(str(exc)) from None
    console.print("cluster stopped" if stopped else "no cluster is running")


def _scheduler_table(report: Any) -> Table:
    table = Table(title=f"Cloudburst scheduler at {report.address} — {report.scheduler_id}")
    for column in ("executor", "node", "address", "pid", "in flight"):
        table.add_column(column)
    for e in report.executors:
        table.add_row(e.executor_id, e.node_id, e.address, str(e.pid), str(e.in_flight))
    table.caption = (
        f"{report.functions} functions, {report.dags} DAGs, {report.pending_calls} pending calls"
    )
    return table


def status(
    ctx: typer.Context,
    home: HomeOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    management: Annotated[
        str | None,
        typer.Option(
            "--management",
            envvar="CLOUDBURST_MANAGEMENT_ADDRESS",
            help="Ask the management service at HOST:PORT (e.g. a compose cluster's "
            "127.0.0.1:7071) instead of the local cluster.",
            show_default=False,
        ),
    ] = None,
    address: AddressOption = None,
) -> None:
    """Show each service of a cluster and its health (the local one by default; with
    --address, or CLOUDBURST_ADDRESS, what the scheduler there reports)."""
    use_json(as_json)
    target = address if address is not None else settings(ctx).address
    if not management and target:
        with connect(ctx, target) as cloud:
            report = cloud.status()
        if as_json:
            typer.echo(json.dumps({"running": True, **dataclasses.asdict(report)}))
        else:
            console.print(_scheduler_table(report))
        return
    if management:
        with waiting(f"asking the management service at {management.strip()}…"):
            info = cluster_status(management.strip())
        missing = f"no management service answers at {management.strip()}"
    else:
        with waiting("asking the local cluster…"):
            info = LocalCluster(home=home, executors=1).status()
        missing = "no cluster is running (start one with `cbctl up`)"
    if info is None:
        if as_json:
            typer.echo(json.dumps({"running": False}))
        else:
            console.print(missing)
        raise typer.Exit(1)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "running": True,
                    "ready": info.ready,
                    "scheduler_address": info.scheduler_address,
                    "services": [dataclasses.asdict(s) for s in info.services],
                    "quarantined": [dataclasses.asdict(q) for q in info.quarantined],
                }
            )
        )
        return
    console.print(_services_table(info))
    if info.quarantined:
        console.print(_quarantine_table(info))


def logs(
    service: Annotated[
        str,
        typer.Argument(
            help="A service of the local cluster: management, storage, scheduler, nodeK-cache "
            "or nodeK-executorI (e.g. node0-cache, node0-executor0); `cbctl status` lists them."
        ),
    ] = "scheduler",
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="Lines to show.")] = 50,
    home: HomeOption = None,
) -> None:
    """Show a service's log."""
    cluster = LocalCluster(home=home, executors=1)
    path = cluster.log_path(service)
    if not path.exists():
        known = sorted(p.stem for p in cluster.log_dir.glob("*.log"))
        raise fail(
            f"no log for {service!r} in {cluster.log_dir}; known: {', '.join(known) or 'none'}"
        )
    with path.open(errors="replace") as handle:
        for line in deque(handle, maxlen=lines):
            typer.echo(line, nl=False)
        while follow:
            line = handle.readline()
            if line:
                typer.echo(line, nl=False)
            else:
                time.sleep(0.2)


__all__ = ["down", "logs", "status", "up"]
