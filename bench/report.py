"""Renders a benchmark report (the JSON ``bench/run.py`` writes): the rich table, the ratios,
the issue's targets and the PNG chart.

    bench/.venv/bin/python bench/report.py [bench/results/latest.json] [--png FILE.png]

Ratios are *cost ratios*, the same way round for every row, so that below 1 always means
Cloudburst is ahead: ours ÷ peer for times, peer ÷ ours for throughput.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

OURS = "cloudburst"
TRACED = "cloudburst_tracing_on"
UNAUTHENTICATED = "cloudburst_auth_off"
PEERS = ("ray", "dask")
NAMES = {
    OURS: "Cloudburst",
    TRACED: "Cloudburst, tracing on",
    UNAUTHENTICATED: "Cloudburst, auth off",
    "ray": "Ray",
    "dask": "Dask",
}
COLORS = {
    OURS: "#1f77b4",
    TRACED: "#9ecae1",
    UNAUTHENTICATED: "#c6dbef",
    "ray": "#ff7f0e",
    "dask": "#2ca02c",
}


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    workload: str
    field: str
    rate: bool = False  # calls/s (higher is better) rather than a time (lower is better)
    headline: bool = True  # one of the figures "ahead of Dask on every workload" counts
    chart: bool = True
    system: str = OURS  # where Cloudburst's figure comes from

    @property
    def unit(self) -> str:
        return "calls/s" if self.rate else "ms"


METRICS = (
    Metric("single_p50", "1 single call p50", "single", "p50_ms"),
    Metric("single_p99", "1 single call p99", "single", "p99_ms", headline=False, chart=False),
    Metric("dag_p50", "2 DAG square(incr(x)) p50", "dag", "p50_ms"),
    Metric("dag_p99", "2 DAG square(incr(x)) p99", "dag", "p99_ms", headline=False, chart=False),
    Metric("fanout_p50", "3 fan-out {fanout} + reduce p50", "fanout", "p50_ms"),
    Metric("throughput", "4 burst of {burst} calls", "throughput", "calls_per_s", rate=True),
    Metric("stateful_p50", "5 stateful call p50", "stateful", "p50_ms"),
    Metric(
        "stateful_p99", "5 stateful call p99", "stateful", "p99_ms", headline=False, chart=False
    ),
    Metric("state_miss", "6 {state_mb} MB read, first (miss)", "state", "miss_ms"),
    Metric("state_hit", "6 {state_mb} MB read, repeated (hit) p50", "state", "hit_p50_ms"),
    Metric("state_put", "6 {state_mb} MB put (store the value)", "state", "put_ms", headline=False),
    Metric(
        "single_p50_traced",
        "1 single call p50, tracing on",
        "single",
        "p50_ms",
        headline=False,
        chart=False,
        system=TRACED,
    ),
    Metric(
        "dag_p50_traced",
        "2 DAG p50, tracing on",
        "dag",
        "p50_ms",
        headline=False,
        chart=False,
        system=TRACED,
    ),
    # What authentication costs: the same calls with CLOUDBURST_AUTH=off (tracing off).
    Metric(
        "single_p50_noauth",
        "1 single call p50, auth off",
        "single",
        "p50_ms",
        headline=False,
        chart=False,
        system=UNAUTHENTICATED,
    ),
    Metric(
        "dag_p50_noauth",
        "2 DAG p50, auth off",
        "dag",
        "p50_ms",
        headline=False,
        chart=False,
        system=UNAUTHENTICATED,
    ),
)
BY_KEY = {m.key: m for m in METRICS}


def label(report: dict, metric: Metric) -> str:
    """The metric's label with this run's counts filled in."""
    config = {"fanout": "?", "burst": "?", "state_mb": "?", **report.get("config", {})}
    return metric.label.format(**config)


def value(report: dict, system: str, metric: Metric) -> float | None:
    """A system's figure for a metric, or ``None`` if it was not measured (or failed)."""
    if system == OURS:
        system = metric.system
    result = report.get("systems", {}).get(system) or {}
    figure = result.get("workloads", {}).get(metric.workload, {}).get(metric.field)
    return float(figure) if isinstance(figure, int | float) else None


def ratio(report: dict, metric: Metric, peer: str) -> float | None:
    """Cost ratio against ``peer``: ours/peer for times, peer/ours for throughput (< 1: ahead)."""
    ours, theirs = value(report, OURS, metric), value(report, peer, metric)
    if ours is None or theirs is None or ours <= 0 or theirs <= 0:
        return None
    return theirs / ours if metric.rate else ours / theirs


def ratios(report: dict) -> dict[str, dict[str, float | None]]:
    return {
        m.key: {peer: _round(ratio(report, m, peer)) for peer in PEERS}
        for m in METRICS
        if value(report, OURS, m) is not None
    }


@dataclass(frozen=True)
class Target:
    name: str
    goal: str
    measured: str
    met: bool | None  # None: could not be judged (a figure is missing)


def targets(report: dict) -> list[Target]:
    """The issue's targets, judged on this run (a report, never an assertion)."""
    out = []

    def against_ray(key: str, name: str, limit: float, goal: str) -> None:
        r = ratio(report, BY_KEY[key], "ray")
        measured = "n/a" if r is None else f"{r:.2f}x Ray"
        if r is not None and BY_KEY[key].rate:
            measured = f"{1 / r:.2f}x Ray's calls/s"
        out.append(Target(name, goal, measured, None if r is None else r <= limit))

    against_ray("single_p50", "single call p50 vs Ray", 0.5, "≤ 0.5x Ray")
    against_ray("dag_p50", "two-function DAG p50 vs Ray", 0.33, "≤ 0.33x Ray")
    against_ray("throughput", "burst throughput vs Ray", 0.5, "≥ 2x Ray's calls/s")

    behind, judged = [], 0
    for metric in METRICS:
        if not metric.headline:
            continue
        r = ratio(report, metric, "dask")
        if r is None:
            continue
        judged += 1
        if r >= 1:
            behind.append(f"{label(report, metric)} ({r:.2f}x)")
    out.append(
        Target(
            "ahead of Dask on every workload",
            f"every headline ratio < 1 ({judged} judged)",
            "n/a"
            if judged == 0
            else "behind on: " + "; ".join(behind)
            if behind
            else "ahead on all",
            None if judged == 0 else not behind,
        )
    )
    dag = value(report, OURS, BY_KEY["dag_p50"])
    out.append(
        Target(
            "two-function DAG p50",
            "< 1.5 ms",
            "n/a" if dag is None else f"{dag:.3f} ms",
            None if dag is None else dag < 1.5,
        )
    )
    return out


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _fmt(x: float | None, metric: Metric) -> str:
    if x is None:
        return "—"
    if metric.rate:
        return f"{x:,.0f}"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def _ratio_text(r: float | None) -> Text:
    if r is None:
        return Text("—", style="dim")
    return Text(f"{r:.2f}x", style="green" if r < 1 else "red")


def header(report: dict) -> str:
    machine = report.get("machine", {})
    load = machine.get("load_avg_start", "?")
    if isinstance(load, list):
        load = "/".join(f"{x:.2f}" for x in load)
    return (
        f"{report.get('date', '?')} · {machine.get('cores', '?')} cores "
        f"({machine.get('cpu', 'unknown CPU')}) · Python {machine.get('python', '?')} · "
        f"load avg at start {load}"
    )


def table(report: dict) -> Table:
    systems = report.get("systems", {})
    versions = {name: (systems.get(name) or {}).get("version", "?") for name in (OURS, *PEERS)}
    config = report.get("config", {})
    grid = Table(
        title=f"Cloudburst vs Ray vs Dask — {header(report)}",
        caption=(
            "ratio = cost ratio: ours ÷ peer for times, peer ÷ ours for throughput; "
            "< 1 (green) means Cloudburst is ahead.\n"
            f"Medians over {config.get('rounds', 1)} interleaved rounds of each system's median "
            f"of {config.get('reps', '?')} repetitions of {config.get('calls', '?')} "
            f"calls (1, 2, 5); fan-out of {config.get('fanout', '?')}; burst of "
            f"{config.get('burst', '?')} calls; state value {config.get('state_mb', '?')} MB."
        ),
    )
    grid.add_column("workload")
    grid.add_column("unit", style="dim")
    grid.add_column(f"Cloudburst\n{versions[OURS]}", justify="right", style="bold")
    grid.add_column(f"Ray\n{versions['ray']}", justify="right")
    grid.add_column(f"Dask\n{versions['dask']}", justify="right")
    grid.add_column("ours vs Ray", justify="right")
    grid.add_column("ours vs Dask", justify="right")
    for metric in METRICS:
        ours = value(report, OURS, metric)
        if ours is None and metric.system in (TRACED, UNAUTHENTICATED):
            continue
        grid.add_row(
            label(report, metric),
            metric.unit,
            _fmt(ours, metric),
            _fmt(value(report, "ray", metric), metric),
            _fmt(value(report, "dask", metric), metric),
            _ratio_text(ratio(report, metric, "ray")),
            _ratio_text(ratio(report, metric, "dask")),
        )
    return grid


def print_report(report: dict, console: Console | None = None) -> None:
    if console is None:
        console = Console()
        if not console.is_terminal:  # piped or under make: do not squeeze to 80 columns
            console = Console(width=130)
    console.print(table(report))
    loads = []
    for name, result in report.get("systems", {}).items():
        if result and result.get("error"):
            console.print(f"[red]{NAMES.get(name, name)} failed:[/red] {result['error']}")
            continue
        for error in (result or {}).get("round_errors", []):
            console.print(f"[red]{NAMES.get(name, name)}: a round failed:[/red] {error}")
        if result:
            loads.append(
                f"{NAMES.get(name, name)} {result.get('load_avg_before', '?')}/"
                f"{result.get('load_avg_after', '?')} ({result.get('seconds', 0):.0f} s measuring"
                f" in {result.get('rounds', 1)} rounds)"
            )
    if loads:
        console.print(
            "highest 1-min load average at the start/end of a system's rounds (0 = quiet): "
            + "; ".join(loads),
            style="dim",
        )
    console.print("\n[bold]Targets of issue 6[/bold] (a report of this run, not a test):")
    for target in targets(report):
        mark = {
            True: "[green]MET    [/green]",
            False: "[red]NOT MET[/red]",
            None: "[dim]n/a    [/dim]",
        }
        console.print(
            f"  {mark[target.met]} {target.name}: {target.measured} (target {target.goal})"
        )
    if "duration_s" in report:
        console.print(f"\nwhole run: {report['duration_s']:.0f} s")


def chart(report: dict, path: Path) -> None:
    """Grouped bars: times on a log scale (left), burst throughput (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = [m for m in METRICS if m.chart and not m.rate]
    rates = [m for m in METRICS if m.chart and m.rate]
    series = [OURS, "ray", "dask"]
    traced = [m for m in METRICS if m.system == TRACED]
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(15, 6.5), gridspec_kw={"width_ratios": [len(times) + 1, 1.6]}
    )
    width = 0.8 / (len(series) + 1)
    for i, system in enumerate([*series, TRACED]):
        xs, ys = [], []
        for j, metric in enumerate(times):
            if system == TRACED:
                match = next((t for t in traced if t.workload == metric.workload), None)
                figure = value(report, TRACED, match) if match else None
            else:
                figure = value(report, system, metric)
            if figure is not None:
                xs.append(j + (i - 1.5) * width)
                ys.append(figure)
        if not xs:
            continue
        bars = left.bar(xs, ys, width, label=NAMES[system], color=COLORS[system])
        left.bar_label(bars, labels=[_short(y) for y in ys], fontsize=7, rotation=90, padding=2)
    left.set_yscale("log")
    left.set_ylabel("milliseconds (log scale) — lower is better")
    left.set_xticks(range(len(times)), [_tick(report, m) for m in times], fontsize=8)
    left.legend(loc="upper left", fontsize=9)
    left.grid(axis="y", which="both", alpha=0.25)
    top = max((b.get_height() for b in left.patches), default=1)
    left.set_ylim(top=top * 6)

    for i, system in enumerate(series):
        for j, metric in enumerate(rates):
            figure = value(report, system, metric)
            if figure is None:
                continue
            bars = right.bar(j + (i - 1) * 0.27, figure, 0.25, color=COLORS[system])
            right.bar_label(bars, labels=[f"{figure:,.0f}"], fontsize=8, padding=2)
    right.set_ylabel("calls/s — higher is better")
    right.set_xticks(range(len(rates)), [_tick(report, m) for m in rates], fontsize=8)
    right.grid(axis="y", alpha=0.25)
    right.margins(y=0.15)

    systems = report.get("systems", {})
    versions = " · ".join(
        f"{NAMES[name]} {(systems.get(name) or {}).get('version', '?')}" for name in (OURS, *PEERS)
    )
    fig.suptitle(f"Cloudburst vs Ray vs Dask — {header(report)}\n{versions}", fontsize=11)
    fig.text(
        0.5,
        0.005,
        "under each label: cost ratio (ours ÷ peer for times, peer ÷ ours for throughput; "
        "< 1 = Cloudburst ahead)",
        ha="center",
        fontsize=8,
        color="#555555",
    )
    fig.tight_layout(rect=(0, 0.02, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _short(y: float) -> str:
    return f"{y:.2f}" if y < 10 else f"{y:.0f}"


def _tick(report: dict, metric: Metric) -> str:
    text = label(report, metric).split(" ", 1)[-1].replace(" p50", "").replace(" (", "\n(")
    parts = []
    for peer in PEERS:
        r = ratio(report, metric, peer)
        if r is not None:
            parts.append(f"{r:.2f}x {NAMES[peer]}")
    return text + ("\n" + " · ".join(parts) if parts else "")


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, nargs="?", default=Path("bench/results/latest.json"))
    parser.add_argument("--png", type=Path, default=None, help="also draw the chart here")
    args = parser.parse_args()
    report = load(args.json)
    print_report(report)
    if args.png:
        chart(report, args.png)
        print(f"chart: {args.png}")


if __name__ == "__main__":
    main()
