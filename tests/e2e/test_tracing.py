"""One DAG call is one trace across processes: client, scheduler, every executor, every hop."""

from __future__ import annotations

import time
from collections.abc import Iterator
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
