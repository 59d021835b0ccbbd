"""``make bench``: Cloudburst side by side with Ray and Dask on this machine, in one run.

    bench/.venv/bin/python bench/run.py [--quick] [--systems cloudburst,ray,dask] [counts...]

Runs each system in its own process, one after the other, each starting its own local
cluster: ``bench/systems/cloudburst_bench.py`` from the project's environment (``.venv``,
what ``make install`` builds) with tracing off (the headline) and again with tracing on
(single call and DAG only), then ``ray_bench.py`` and ``dask_bench.py`` from the peers'
environment (``bench/.venv``). Each writes JSON; this merges them into one report, prints
the table and the issue's targets, and writes ``<out-dir>/latest.json`` and ``latest.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SYSTEMS = BENCH / "systems"
sys.path.insert(0, str(SYSTEMS))

import _harness as h  # noqa: E402
import report as render  # noqa: E402

QUICK = {
    "rounds": 1,
    "reps": 2,
    "calls": 50,
    "warmup": 10,
    "fanout_iters": 3,
    "burst": 300,
    "state_hits": 5,
}
SETTLE_S = 2.0  # between systems, so one's processes are gone before the next starts


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    h.add_flags(parser)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="run every system this many times, interleaved; figures are medians over rounds",
    )
    parser.add_argument("--systems", default="cloudburst,ray,dask")
    parser.add_argument(
        "--no-tracing-row", action="store_true", help="skip the run with tracing on"
    )
    parser.add_argument(
        "--no-auth-row",
        action="store_true",
        help="skip the run with authentication off (what checking tokens costs)",
    )
    parser.add_argument("--out-dir", type=Path, default=BENCH / "results")
    parser.add_argument("--name", default=None, help="file stem (default latest, quick: quick)")
    parser.add_argument("--cloudburst-python", type=Path, default=REPO / ".venv/bin/python")
    parser.add_argument("--peer-python", type=Path, default=Path(sys.executable))
    parser.add_argument("--timeout", type=float, default=900, help="per system, seconds")
    defaults = {name: parser.get_default(name) for name in (*h.COUNT_FLAGS, "rounds")}
    args = parser.parse_args()
    if args.quick:
        for name, small in QUICK.items():
            if getattr(args, name) == defaults[name]:
                setattr(args, name, small)
    h.check_flags(parser, args)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(args.systems) - {"cloudburst", "ray", "dask"})
    if unknown:
        parser.error(f"unknown system(s): {', '.join(unknown)}")
    args.name = args.name or ("quick" if args.quick else "latest")
    return args


def count_flags(args: argparse.Namespace, workloads: list[str]) -> list[str]:
    flags = ["--workloads", ",".join(workloads)]
    for name in h.COUNT_FLAGS:
        flags += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    return flags


def run_system(
    label: str,
    python: Path,
    script: str,
    args: argparse.Namespace,
    workloads: list[str],
    env: dict[str, str],
) -> dict:
    """Runs one system's script; its progress streams to this terminal, its JSON comes back."""
    if not python.exists():
        return {"error": f"{python} does not exist (run `make bench`, which creates it)"}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp) / "report.json"
        command = [str(python), str(SYSTEMS / script), *count_flags(args, workloads)]
        h.log(f"running {label}: {' '.join(command[1:])}")
        try:
            done = subprocess.run(
                [*command, "--out", str(out)],
                env=env,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                timeout=args.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {args.timeout:g} s"}
        if done.returncode != 0 or not out.exists():
            return {"error": f"exited with status {done.returncode} (its output is above)"}
        return json.loads(out.read_text())


def merge_rounds(reports: list[dict]) -> dict:
    """One system's rounds as one report: each figure is the median over the rounds that
    succeeded; per-repetition lists are concatenated; what each round saw is kept."""
    ok = [r for r in reports if not r.get("error")]
    errors = [r["error"] for r in reports if r.get("error")]
    if not ok:
        return {"error": "; ".join(errors)}
    merged = {k: v for k, v in ok[-1].items() if k not in ("workloads", "seconds")}
    merged["rounds"] = len(ok)
    merged["seconds"] = round(sum(r["seconds"] for r in ok), 2)
    merged["load_avg_before"] = max(r["load_avg_before"] for r in ok)
    merged["load_avg_after"] = max(r["load_avg_after"] for r in ok)
    if errors:
        merged["round_errors"] = errors
    workloads: dict[str, dict] = {}
    for name in ok[0]["workloads"]:
        per_round = [r["workloads"][name] for r in ok if name in r["workloads"]]
        figures: dict = {}
        for key, first in per_round[0].items():
            values = [w[key] for w in per_round if key in w]
            numeric = isinstance(first, int | float) and not isinstance(first, bool)
            if isinstance(first, list):
                figures[key] = [x for v in values for x in v]
            elif numeric and key in ("reps", "seconds"):
                figures[key] = round(sum(values), 2)
            elif numeric and any(v != first for v in values):
                figures[key] = round(statistics.median(values), 3)
            else:
                figures[key] = first
        figures["per_round"] = [
            {k: v for k, v in w.items() if not isinstance(v, list)} for w in per_round
        ]
        workloads[name] = figures
    merged["workloads"] = workloads
    return merged


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    load_start = os.getloadavg()
    base_env = dict(os.environ)
    # The peers' scripts must not pick up the project's packages or vice versa.
    base_env.pop("PYTHONPATH", None)
    base_env.pop("VIRTUAL_ENV", None)
    # Groups run back to back within a round (ours with tracing off, then on); the order of
    # the groups rotates from round to round, so a burst of other work on the machine does not
    # always land on the same system.
    groups: list[list[tuple]] = []
    if "cloudburst" in args.systems:
        off = {**base_env, "CLOUDBURST_TRACING": "off"}
        group = [("cloudburst", args.cloudburst_python, "cloudburst_bench.py", args.workloads, off)]
        traced_workloads = [w for w in ("single", "dag") if w in args.workloads]
        if traced_workloads and not args.no_tracing_row:
            on = {**base_env, "CLOUDBURST_TRACING": "on"}
            group.append(
                (render.TRACED, args.cloudburst_python, "cloudburst_bench.py", traced_workloads, on)
            )
        if traced_workloads and not args.no_auth_row:
            open_env = {**base_env, "CLOUDBURST_TRACING": "off", "CLOUDBURST_AUTH": "off"}
            group.append(
                (
                    render.UNAUTHENTICATED,
                    args.cloudburst_python,
                    "cloudburst_bench.py",
                    traced_workloads,
                    open_env,
                )
            )
        groups.append(group)
    for peer in ("ray", "dask"):
        if peer in args.systems:
            groups.append([(peer, args.peer_python, f"{peer}_bench.py", args.workloads, base_env)])

    runs: dict[str, list[dict]] = {label: [] for group in groups for label, *_ in group}
    first = True
    for round_no in range(args.rounds):
        shift = round_no % len(groups)
        for group in groups[shift:] + groups[:shift]:
            for label, python, script, workloads, env in group:
                if not first:
                    time.sleep(SETTLE_S)
                first = False
                tag = f"{label} (round {round_no + 1}/{args.rounds})"
                runs[label].append(run_system(tag, python, script, args, workloads, env))
    systems = {label: merge_rounds(reports) for label, reports in runs.items()}

    report = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": {
            "cores": os.cpu_count(),
            "cpu": cpu_model(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_avg_start": [round(x, 2) for x in load_start],
            "load_avg_end": [round(x, 2) for x in os.getloadavg()],
        },
        "config": {
            "quick": args.quick,
            "rounds": args.rounds,
            "workloads": args.workloads,
            **{name: getattr(args, name) for name in h.COUNT_FLAGS},
            "ratio": "cost ratio: ours/peer for times, peer/ours for throughput; < 1 = ahead",
            "fanout_reduce": "a remote reduce function taking the fan-out's futures as arguments",
        },
        "systems": systems,
    }
    report["ratios"] = render.ratios(report)
    report["targets"] = [t.__dict__ for t in render.targets(report)]
    report["duration_s"] = round(time.perf_counter() - started, 1)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.out_dir / f"{args.name}.json"
    png_path = args.out_dir / f"{args.name}.png"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    render.chart(report, png_path)
    print()
    render.print_report(report)
    print(f"\nwrote {_shown(json_path)} and {_shown(png_path)}")
    if any(s.get("error") or s.get("round_errors") for s in systems.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
