"""``cbctl trace``: a call's trace as a waterfall in the terminal.

The local cluster's services write their spans as JSON lines under
``$CLOUDBURST_HOME/traces`` (see ``cloudburst_protocol.tracing``); this command reads them,
finds the trace of a call id (or the latest call) and draws each span as a bar on a shared
time line, nested under its parent: per-hop durations at a glance.

Trace files belong to one run of the local cluster: ``cbctl up`` and ``cbctl down`` move the
previous run's files to ``traces/previous`` (see ``LocalCluster``), so ``--last`` only ever
shows a call of the running cluster; ``cbctl trace ID`` still finds a call of the previous
run. The latest call is the one whose spans started last, on any path (direct calls make no
scheduler span); a call made by ``cbctl call`` is remembered (``last-call.json``), so
``--last`` right after it waits for that call's spans instead of showing an older call.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer
from cloudburst_management import LocalCluster
from cloudburst_protocol import config
from cloudburst_protocol.tracing import CALL_ID, DAG, ERROR_TYPE, FUNCTION, read_spans
from rich.table import Table
from rich.text import Text

from cloudburst_cli._output import console, echo_json, fail, use_json, waiting

BAR_WIDTH = 40
WAIT_S = 3.0
"""Spans reach the files a moment after a call ends: wait up to this long for them."""
LAST_CALL_FILE = "last-call.json"
PREVIOUS_RUN = "previous"
_CALL_ID = re.compile(r"[0-9a-f]{32}")


def latest_call(spans: list[dict[str, Any]]) -> tuple[str, int] | None:
    """The call id whose first span started last, with that start (ns); ``None`` if no span
    names a call. Every path counts: a direct call's spans are its executors' alone."""
    first: dict[str, int] = {}
    for span in spans:
        call_id = span["attributes"].get(CALL_ID)
        if call_id:
            first[call_id] = min(first.get(call_id, span["start_ns"]), span["start_ns"])
    if not first:
        return None
    call_id = max(first, key=lambda c: first[c])
    return call_id, first[call_id]


def find_trace(spans: list[dict[str, Any]], call_id: str | None) -> list[dict[str, Any]]:
    """The spans of the trace that holds ``call_id`` (or of the latest call if ``None``)."""
    if call_id is None:
        latest = latest_call(spans)
        if latest is None:
            return []
        call_id = latest[0]
    ids = {s["trace_id"] for s in spans if s["attributes"].get(CALL_ID) == call_id}
    if not ids:
        return []
    trace_id = max(ids, key=lambda t: max(s["end_ns"] for s in spans if s["trace_id"] == t))
    return sorted((s for s in spans if s["trace_id"] == trace_id), key=lambda s: s["start_ns"])


def title(spans: list[dict[str, Any]], call_id: str | None = None) -> str:
    """``call ID — dag D (or function F) — ok (or error TYPE) — total ms`` for a trace."""
    start = min(s["start_ns"] for s in spans)
    total = max(max(s["end_ns"] for s in spans) - start, 1)
    if call_id is None:
        latest = latest_call(spans)
        call_id = latest[0] if latest else None
    own = [s for s in spans if s["attributes"].get(CALL_ID) == call_id] or spans
    dag = next((s["attributes"][DAG] for s in own if s["attributes"].get(DAG)), "")
    function = next((s["attributes"][FUNCTION] for s in own if s["attributes"].get(FUNCTION)), "")
    what = f"dag {dag}" if dag else f"function {function}" if function else "?"
    failed = [s for s in own if s["status"] == "ERROR"]
    if failed:
        types = sorted({s["attributes"].get(ERROR_TYPE) or "error" for s in failed})
        status = f"error {', '.join(types)}"
    else:
        status = "ok"
    head = f"call {call_id}" if call_id else f"trace {spans[0]['trace_id']}"
    return f"{head} — {what} — {status} — {total / 1e6:.3f} ms"


def remember_call(address: str, call_id: str, home: Path | None = None) -> None:
    """Records ``call_id`` as the last call cbctl made, when it went to the local cluster (of
    ``home``); ``trace --last`` then waits for that call's spans. Best effort."""
    cluster = LocalCluster(home=home, executors=1)
    state = cluster.read_state()
    if state is None or state.scheduler_address != address:
        return
    record = {"call_id": call_id, "run": state.started_at, "time_ns": time.time_ns()}
    try:
        tmp = cluster.home / (LAST_CALL_FILE + ".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(cluster.home / LAST_CALL_FILE)
    except OSError:
        return


def remembered_call(home: Path) -> tuple[str, int] | None:
    """The last call cbctl made to the running local cluster at ``home``: (id, time ns)."""
    state = LocalCluster(home=home, executors=1).read_state()
    try:
        record = json.loads((home / LAST_CALL_FILE).read_text())
        if state is None or record["run"] != state.started_at:
            return None
        return str(record["call_id"]), int(record["time_ns"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _last_trace(home: Path, directory: Path) -> list[dict[str, Any]]:
    """The latest call's spans, waiting (up to ``WAIT_S``) for those of a call cbctl just
    made when they have not reached the files yet. A call cbctl made after every traced call
    that leaves no spans (it failed before it ran: an unknown function, say) is reported
    rather than drawing an older call."""
    remembered = remembered_call(home)
    deadline = time.monotonic() + WAIT_S
    while True:
        spans = read_spans(directory)
        latest = latest_call(spans)
        # The call cbctl made last is newer than every traced call: wait for its spans.
        if remembered is not None and (latest is None or remembered[1] > latest[1]):
            if latest is not None and latest[0] == remembered[0]:
                return find_trace(spans, None)
            if time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            raise fail(
                f"the last call cbctl made, {remembered[0]}, left no spans in {directory} "
                "(it failed before it ran, or tracing is off)"
            )
        if latest is not None or time.monotonic() > deadline:
            return find_trace(spans, None)
        time.sleep(0.1)


def waterfall(spans: list[dict[str, Any]], call_id: str | None = None) -> Table:
    """A table: the span tree on the left, start offset, duration and a bar on the right;
    the title names the call, what it ran, how it ended and its total time."""
    start = min(s["start_ns"] for s in spans)
    end = max(s["end_ns"] for s in spans)
    total = max(end - start, 1)
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    ids = {s["span_id"] for s in spans}
    for span in spans:
        parent = span["parent_id"] if span["parent_id"] in ids else None
        children[parent].append(span)
    table = Table(
        title=title(spans, call_id),
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
    use_json(as_json)
    if (call_id is None) == (not last):
        raise fail("give a call id or --last")
    root = home.expanduser() if home else config.home()
    directory = root / "traces"
    if call_id is None:
        with waiting("reading the latest call's spans…"):
            spans = _last_trace(root, directory)
        if not spans:
            raise fail(
                f"no call of the running cluster in {directory} (tracing off, or another "
                "cluster's home?)"
            )
    else:
        call_id = call_id.strip().lower()
        if not _CALL_ID.fullmatch(call_id):
            raise fail(f"{call_id!r} is not a call id (32 hex digits, as `cbctl call` prints)")
        deadline = time.monotonic() + WAIT_S
        with waiting(f"looking for the spans of call {call_id}…"):
            while True:
                spans = find_trace(
                    read_spans(directory) + read_spans(directory / PREVIOUS_RUN), call_id
                )
                if spans or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        if not spans:
            raise fail(
                f"no spans of call {call_id} in {directory} (unknown id, tracing off, or "
                "another cluster's home?)"
            )
    if as_json:
        echo_json(spans)
        return
    shown = call_id or (latest[0] if (latest := latest_call(spans)) else None)
    console.print(waterfall(spans, shown))
