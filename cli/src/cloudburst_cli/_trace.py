"""``cbctl trace``: a call's trace as a waterfall in the terminal.

The local cluster's services write their spans as JSON lines under
``$CLOUDBURST_HOME/traces`` (see ``cloudburst_protocol.tracing``); this command reads them,
finds the trace of a call id (or the latest call) and draws each span as a bar on a shared
time line, nested under its parent: per-hop durations at a glance.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer
from cloudburst_protocol import config
from cloudburst_protocol.tracing import CALL_ID, read_spans
from rich.table import Table
from rich.text import Text

from cloudburst_cli._output import console, echo_json, fail

BAR_WIDTH = 40
WAIT_S = 3.0
"""Spans reach the files a moment after a call ends: wait up to this long for them."""


def find_trace(spans: list[dict[str, Any]], call_id: str | None) -> list[dict[str, Any]]:
    """The spans of the trace that holds ``call_id`` (or of the latest call if ``None``)."""
    if call_id is None:
        calls = [s for s in spans if s["name"] == "scheduler.call"]
        if not calls:
            return []
        trace_id = max(calls, key=lambda s: s["start_ns"])["trace_id"]
    else:
        ids = {s["trace_id"] for s in spans if s["attributes"].get(CALL_ID) == call_id}
        if not ids:
            return []
        trace_id = max(ids, key=lambda t: max(s["end_ns"] for s in spans if s["trace_id"] == t))
    return sorted((s for s in spans if s["trace_id"] == trace_id), key=lambda s: s["start_ns"])


def waterfall(spans: list[dict[str, Any]]) -> Table:
    """A table: the span tree on the left, start offset, duration and a bar on the right."""
    start = min(s["start_ns"] for s in spans)
    end = max(s["end_ns"] for s in spans)
    total = max(end - start, 1)
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    ids = {s["span_id"] for s in spans}
    for span in spans:
        parent = span["parent_id"] if span["parent_id"] in ids else None
        children[parent].append(span)
    table = Table(
        title=f"trace {spans[0]['trace_id']} — {total / 1e6:.3f} ms",
        title_justify="left",
        box=None,
        pad_edge=False,
    )
    table.add_column("span")
    table.add_column("where", style="dim")
    table.add_column("start ms", justify="right")
    table.add_column("ms", justify="right")
    table.add_column("")

    def add(span: dict[str, Any], depth: int) -> None:
        offset = span["start_ns"] - start
        duration = span["end_ns"] - span["start_ns"]
        left = int(offset / total * BAR_WIDTH)
        width = max(1, round(duration / total * BAR_WIDTH))
        color = "red" if span["status"] == "ERROR" else "cyan"
        bar = Text(" " * left) + Text("█" * min(width, BAR_WIDTH - left), style=color)
        label = Text("  " * depth + span["name"], style="red" if span["status"] == "ERROR" else "")
        error = span["attributes"].get("error.type")
        if error:
            label.append(f"  {error}", style="red")
        table.add_row(
            label,
            span.get("instance") or span.get("service", ""),
            f"{offset / 1e6:.3f}",
            f"{duration / 1e6:.3f}",
            bar,
        )
        for child in sorted(children.get(span["span_id"], []), key=lambda s: s["start_ns"]):
            add(child, depth + 1)

    for root in children[None]:
        add(root, 0)
    return table


def trace(
    call_id: Annotated[
        str | None, typer.Argument(help="The call id (printed by `cbctl call --async`).")
    ] = None,
    last: Annotated[bool, typer.Option("--last", help="Show the latest call's trace.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the spans as JSON.")] = False,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            envvar=config.HOME_ENV,
            help="The local cluster's state directory [default: ~/.cloudburst].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Draw a call's trace (a waterfall of every span, per hop) from the local cluster."""
    if (call_id is None) == (not last):
        raise fail("give a call id or --last")
    directory = (home.expanduser() if home else config.home()) / "traces"
    deadline = time.monotonic() + WAIT_S
    while True:
        spans = find_trace(read_spans(directory), None if last else call_id)
        if spans or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if not spans:
        what = "no call" if last else f"no spans of call {call_id}"
        raise fail(f"{what} in {directory} (tracing off, or another cluster's home?)")
    if as_json:
        echo_json(spans)
        return
    console.print(waterfall(spans))
