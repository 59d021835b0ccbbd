"""One DAG call is one trace across processes: client, scheduler, every executor, every hop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cloudburst import CloudburstConnection, RemoteFunctionError
from cloudburst_management import LocalCluster
from cloudburst_protocol.tracing import read_spans
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client_spans() -> Iterator[InMemorySpanExporter]:
    """An OpenTelemetry SDK in the test process, as a user would configure it."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    yield exporter


def cluster_trace(cluster: LocalCluster, trace_id: str, names: set[str]) -> list[dict[str, Any]]:
    """The cluster's spans of one trace, once every expected span name has been written."""
    deadline = time.monotonic() + 10
    while True:
        spans = [s for s in read_spans(cluster.home / "traces") if s["trace_id"] == trace_id]
        if names <= {s["name"] for s in spans} or time.monotonic() > deadline:
            return spans
        time.sleep(0.1)


def test_dag_call_is_one_trace(
    spread: LocalCluster, client_spans: InMemorySpanExporter, name: str
) -> None:
    """A two-function DAG across two executors: the client span is the root, the scheduler's
    call span its child, and each function and hop hangs below the previous one."""
    a, b = f"{name}-a", f"{name}-b"
    with CloudburstConnection(spread.scheduler_address) as cloud:
        cloud.register(lambda _, x: x + 1, a)
        cloud.register(lambda _, x: x * 2, b)
        cloud.register_dag(f"{name}-dag", [a, b], [(a, b)])
        future = cloud.call_dag(f"{name}-dag", {a: 1})
        assert future.get() == 4
    client = next(
        s
        for s in client_spans.get_finished_spans()
        if s.attributes and s.attributes.get("cloudburst.call_id") == future.obj_id
    )
    trace_id = f"{client.context.trace_id:032x}"
    expected = {"scheduler.call", "scheduler.place", f"execute {a}", f"trigger {b}", f"execute {b}"}
    spans = {s["name"]: s for s in cluster_trace(spread, trace_id, expected)}
    assert expected <= set(spans)
    assert spans["scheduler.call"]["parent_id"] == f"{client.context.span_id:016x}"
    assert spans["scheduler.place"]["parent_id"] == spans["scheduler.call"]["span_id"]
    assert spans[f"execute {a}"]["parent_id"] == spans["scheduler.call"]["span_id"]
    assert spans[f"trigger {b}"]["parent_id"] == spans[f"execute {a}"]["span_id"]
    assert spans[f"execute {b}"]["parent_id"] == spans[f"trigger {b}"]["span_id"]
    assert spans[f"execute {a}"]["instance"] != spans[f"execute {b}"]["instance"]
    for fn in (a, b):
        attributes = spans[f"execute {fn}"]["attributes"]
        assert attributes["cloudburst.call_id"] == future.obj_id
        assert attributes["cloudburst.dag"] == f"{name}-dag"
        assert attributes["cloudburst.result_bytes"] > 0


def test_failed_call_marks_its_spans(spread: LocalCluster, name: str) -> None:
    """A user exception sets the error status and type on the function's and the call's span."""

    def boom(_: Any) -> None:
        raise KeyError("nope")

    with CloudburstConnection(spread.scheduler_address) as cloud:
        future = cloud.register(boom, name)()
        with pytest.raises(RemoteFunctionError):
            future.get()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        spans = [
            s
            for s in read_spans(spread.home / "traces")
            if s["attributes"].get("cloudburst.call_id") == future.obj_id
        ]
        if {s["name"] for s in spans} >= {"scheduler.call", f"execute {name}"}:
            break
        time.sleep(0.1)
    by_name = {s["name"]: s for s in spans}
    for span_name in ("scheduler.call", f"execute {name}"):
        assert by_name[span_name]["status"] == "ERROR"
        assert by_name[span_name]["attributes"]["error.type"] == "KeyError"


def test_cbctl_trace_draws_the_waterfall(spread: LocalCluster, name: str) -> None:
    """`cbctl trace ID` and `--last` draw every hop of a real multi-executor DAG call;
    `--json` gives the spans; an unknown id is one error line."""
    import json

    from cloudburst_cli.main import app
    from typer.testing import CliRunner

    a, b = f"{name}-a", f"{name}-b"
    with CloudburstConnection(spread.scheduler_address) as cloud:
        cloud.register(lambda _, x: x + 1, a)
        cloud.register(lambda _, x: x * 2, b)
        cloud.register_dag(f"{name}-dag", [a, b], [(a, b)])
        future = cloud.call_dag(f"{name}-dag", {a: 1})
        assert future.get() == 4
    runner = CliRunner()
    home = ["--home", str(spread.home)]
    deadline = time.monotonic() + 10
    while True:
        shown = runner.invoke(app, ["trace", future.obj_id, *home], env={"COLUMNS": "160"})
        expected = (
            "scheduler.call",
            "scheduler.place",
            f"execute {a}",
            f"trigger {b}",
            f"execute {b}",
        )
        # Each process flushes its spans on its own schedule: wait for all of them.
        if all(n in shown.output for n in expected) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert shown.exit_code == 0, shown.output
    for span_name in (
        "scheduler.call",
        "scheduler.place",
        f"execute {a}",
        f"trigger {b}",
        f"execute {b}",
    ):
        assert span_name in shown.output
    assert "node0-executor0" in shown.output and "node0-executor1" in shown.output
    last = runner.invoke(app, ["trace", "--last", *home], env={"COLUMNS": "160"})
    assert last.exit_code == 0 and f"execute {b}" in last.output
    as_json = runner.invoke(app, ["trace", future.obj_id, "--json", *home])
    spans = json.loads(as_json.stdout)
    assert {s["trace_id"] for s in spans} == {spans[0]["trace_id"]}
    missing = runner.invoke(app, ["trace", "no-such-call", *home])
    assert missing.exit_code == 1
    assert "Traceback" not in missing.output


CBCTL = str(Path(sys.executable).parent / "cbctl")

TRACED_FUNCS = """
def square(_, x):
    return x * x


def inc(_, x):
    return x + 1


def boom(_, x):
    raise ValueError(f"no good: {x}")
"""


def cbctl_at(cluster: LocalCluster, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed cbctl, as a user of ``cluster`` runs it (its home and address)."""
    env = dict(
        os.environ,
        CLOUDBURST_HOME=str(cluster.home),
        CLOUDBURST_ADDRESS=cluster.scheduler_address,
        COLUMNS="200",
    )
    return subprocess.run(
        [CBCTL, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(scope="module")
def traced(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """square, inc and boom registered on the shared cluster, and a DAG inc -> square."""
    prefix = f"tr{uuid.uuid4().hex[:8]}"
    path = tmp_path_factory.mktemp("traced") / f"{prefix}_funcs.py"
    path.write_text(TRACED_FUNCS)
    names = {fn: f"{prefix}_{fn}" for fn in ("square", "inc", "boom")}
    for fn, registered in names.items():
        done = cbctl_at(cluster, "register", f"{path}:{fn}", "--name", registered)
        assert done.returncode == 0, done.stderr
    names["dag"] = f"{prefix}_dag"
    done = cbctl_at(
        cluster, "dag", "create", names["dag"], "--edge", f"{names['inc']}:{names['square']}"
    )
    assert done.returncode == 0, done.stderr
    return names


def test_trace_last_after_a_direct_call(cluster: LocalCluster, traced: dict[str, str]) -> None:
    """`cbctl call` takes the direct path (no scheduler span); `trace --last` right after it
    draws that call, titled with its id, function, status and total time."""
    called = cbctl_at(cluster, "call", traced["square"], "6", "--json")
    assert called.returncode == 0, called.stderr
    reply = json.loads(called.stdout)
    assert reply["result"] == 36
    shown = cbctl_at(cluster, "trace", "--last")
    assert shown.returncode == 0, shown.stderr
    head = shown.stdout.strip().splitlines()[0]
    assert f"call {reply['call_id']}" in head
    assert f"function {traced['square']}" in head
    assert "ok" in head and "ms" in head
    assert f"execute {traced['square']}" in shown.stdout


def test_trace_last_after_a_dag_call(cluster: LocalCluster, traced: dict[str, str]) -> None:
    """`cbctl dag call --verbose` prints its call id; `trace --last` shows that DAG call."""
    called = cbctl_at(cluster, "dag", "call", traced["dag"], "--arg", f"{traced['inc']}=2", "-v")
    assert called.returncode == 0, called.stderr
    assert called.stdout.strip() == "9"
    call_id = called.stderr.split("call ", 1)[1].split()[0]
    assert len(call_id) == 32
    shown = cbctl_at(cluster, "trace", "--last")
    assert shown.returncode == 0, shown.stderr
    head = shown.stdout.strip().splitlines()[0]
    assert f"call {call_id}" in head and f"dag {traced['dag']}" in head
    for fn in ("inc", "square"):
        assert f"execute {traced[fn]}" in shown.stdout


def test_trace_last_after_a_failed_call(cluster: LocalCluster, traced: dict[str, str]) -> None:
    """A failed call names its call id on its error line, and with --json prints the error
    as JSON on stdout with the id; `trace --last` shows that call as failed."""
    failed = cbctl_at(cluster, "call", traced["boom"], "3")
    assert failed.returncode == 1
    line = failed.stderr.strip().splitlines()[-1]
    assert "ValueError" in line and "call " in line
    call_id = line.split("call ", 1)[1].split(";")[0].split(")")[0].strip()
    assert len(call_id) == 32
    as_json = cbctl_at(cluster, "call", traced["boom"], "4", "--json")
    assert as_json.returncode == 1
    reply = json.loads(as_json.stdout)
    assert len(reply["call_id"]) == 32
    assert reply["error"]["type"] == "RemoteFunctionError"
    assert "no good: 4" in reply["error"]["message"]
    shown = cbctl_at(cluster, "trace", "--last")
    assert shown.returncode == 0, shown.stderr
    head = shown.stdout.strip().splitlines()[0]
    assert f"call {reply['call_id']}" in head
    assert "error ValueError" in head


def test_trace_of_a_malformed_or_unknown_id_is_one_line(cluster: LocalCluster) -> None:
    """An id that cannot be a call id fails at once; an unknown one after a short wait."""
    for call_id in ("no-such-call", "0" * 32):
        done = cbctl_at(cluster, "trace", call_id)
        assert done.returncode == 1
        assert "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert "not a call id" in cbctl_at(cluster, "trace", "nope").stderr


def test_trace_last_after_a_call_that_never_ran(cluster: LocalCluster) -> None:
    """A call of an unregistered function leaves no spans: its error line names its call id,
    and `trace --last` says that call left none instead of drawing an older call."""
    failed = cbctl_at(cluster, "call", f"nothing{uuid.uuid4().hex[:8]}", "1")
    assert failed.returncode == 1
    line = failed.stderr.strip().splitlines()[-1]
    assert "FunctionNotFoundError" in line
    call_id = line.rsplit("(call ", 1)[1].rstrip(")")
    assert len(call_id) == 32
    shown = cbctl_at(cluster, "trace", "--last")
    assert shown.returncode == 1
    assert call_id in shown.stderr and "left no spans" in shown.stderr
