"""DAGs: ``cbctl dag create/call/list/describe/delete``.

A DAG file (``cbctl dag create -f dag.yaml``) is YAML, or JSON, which YAML reads too::

    name: pipeline
    functions: [clean, square, total]   # order matters: upstream results arrive in it
    edges:                              # upstream -> downstream
      - clean:square                    # "a:b" strings ...
      - [square, total]                 # ... or pairs

``functions`` may leave out functions that appear in an edge; they are added in the order
they first appear. ``cbctl dag describe NAME --json`` prints the same format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.text import Text
from rich.tree import Tree

from cloudburst_cli._client import (
    AddressOption,
    JsonOption,
    VerboseOption,
    connect,
    parse_arg,
    reporting_errors,
)
from cloudburst_cli._output import (
    console,
    done,
    echo_json,
    echo_names,
    fail,
    note,
    print_result,
    use_json,
    waiting,
)
from cloudburst_cli._trace import remember_call

dag_app = typer.Typer(
    help="DAGs: registered functions composed into a graph with one sink.\n\n"
    "Examples:\n\n"
    "    cbctl dag create pipeline --function clean --function square --edge clean:square\n\n"
    "    cbctl dag create -f dag.yaml\n\n"
    "    cbctl dag call pipeline --arg clean='[1, 2]' --arg clean=3\n\n"
    "    cbctl dag describe pipeline\n\n"
    "    cbctl dag list --json\n\n"
    "    cbctl dag delete pipeline",
    no_args_is_help=True,
)

_FILE_KEYS = ("name", "functions", "edges")


@dataclass(frozen=True)
class DagSpec:
    """A DAG definition as cbctl reads and prints it."""

    name: str
    functions: list[str]
    edges: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "functions": self.functions,
            "edges": [list(e) for e in self.edges],
        }


def parse_edge(edge: object, where: str = "--edge") -> tuple[str, str]:
    """``"a:b"`` or ``[a, b]`` -> ``("a", "b")``."""
    if isinstance(edge, str):
        upstream, sep, downstream = edge.partition(":")
        if sep and upstream.strip() and downstream.strip() and ":" not in downstream:
            return upstream.strip(), downstream.strip()
    elif (
        isinstance(edge, list | tuple)
        and len(edge) == 2
        and all(isinstance(end, str) and end for end in edge)
    ):
        return edge[0], edge[1]
    raise fail(f"{where}: an edge is UPSTREAM:DOWNSTREAM (e.g. clean:square), got {edge!r}")


def with_edge_functions(functions: list[str], edges: list[tuple[str, str]]) -> list[str]:
    """``functions`` followed by any edge endpoint it leaves out, in order of appearance."""
    merged = list(dict.fromkeys(functions))
    for edge in edges:
        merged.extend(end for end in edge if end not in merged)
    return merged


def load_dag_file(file: Path, name: str | None) -> DagSpec:
    """Reads a DAG file (format in this module's docstring); ``name`` overrides its name."""
    try:
        data = yaml.safe_load(file.read_text())
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise fail(f"{file} is not valid YAML: {detail}") from None
    if not isinstance(data, dict):
        raise fail(f"{file}: expected a mapping with keys {', '.join(_FILE_KEYS)}")
    unknown = sorted(str(k) for k in data if k not in _FILE_KEYS)
    if unknown:
        raise fail(f"{file}: unknown keys {', '.join(unknown)}; known: {', '.join(_FILE_KEYS)}")
    dag_name = name if name is not None else data.get("name")
    if not isinstance(dag_name, str) or not dag_name:
        raise fail(f"{file}: the DAG needs a name (a 'name' key, or NAME on the command line)")
    functions = data.get("functions") or []
    if not isinstance(functions, list) or not all(isinstance(f, str) for f in functions):
        raise fail(f"{file}: 'functions' is a list of function names")
    raw_edges = data.get("edges") or []
    if not isinstance(raw_edges, list):
        raise fail(f"{file}: 'edges' is a list of UPSTREAM:DOWNSTREAM strings or pairs")
    edges = [parse_edge(e, f"{file}") for e in raw_edges]
    return DagSpec(dag_name, with_edge_functions(functions, edges), edges)


def parse_dag_args(items: list[str]) -> dict[str, list[Any]]:
    """``["a=1", "a=[2]", "b=x"]`` -> ``{"a": [1, [2]], "b": ["x"]}``: several ``--arg`` for
    one function append its arguments in order."""
    arg_map: dict[str, list[Any]] = {}
    for item in items:
        function, sep, value = item.partition("=")
        if not sep or not function.strip():
            raise fail(f"--arg takes FUNCTION=JSON (e.g. square=3), got {item!r}")
        arg_map.setdefault(function.strip(), []).append(parse_arg(value, f"--arg {item!r}"))
    return arg_map


def dag_tree(spec: DagSpec) -> Tree:
    """The DAG drawn from its sources down to its sink. A function with several upstreams is
    drawn under each; only its first appearance continues downward. ``← a, b`` lists the
    upstreams whose results it receives, in that order."""
    upstream: dict[str, list[str]] = {f: [] for f in spec.functions}
    downstream: dict[str, list[str]] = {f: [] for f in spec.functions}
    for source, target in spec.edges:
        downstream.setdefault(source, []).append(target)
        upstream.setdefault(target, []).append(source)
    order = {f: i for i, f in enumerate(spec.functions)}
    sinks = [f for f in spec.functions if not downstream[f]]
    title = Text.assemble(
        ("dag ", "bold"),
        (spec.name, "bold magenta"),
        (f"  {len(spec.functions)} functions, {len(spec.edges)} edges", "dim"),
    )
    tree = Tree(title)
    expanded: set[str] = set()

    def add(parent: Tree, function: str) -> None:
        label = Text(function, style="bold cyan")
        inputs = sorted(upstream[function], key=lambda f: order.get(f, len(order)))
        if len(inputs) > 1:
            label.append(f"  ← {', '.join(inputs)}", style="dim")
        if function in sinks:
            label.append("  (sink)", style="green")
        if function in expanded and downstream[function]:
            label.append("  ↑ continues above", style="dim")
            parent.add(label)
            return
        node = parent.add(label)
        expanded.add(function)
        for child in downstream[function]:
            add(node, child)

    for function in spec.functions:
        if not upstream[function]:
            add(tree, function)
    return tree


@dag_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(metavar="NAME", help="The DAG's name (with -f: overrides the file's name)."),
    ] = None,
    functions: Annotated[
        list[str] | None,
        typer.Option(
            "--function",
            metavar="FUNCTION",
            help="A registered function, repeatable; the order is the order upstream results "
            "arrive in. Functions named in an --edge may be left out.",
            show_default=False,
        ),
    ] = None,
    edges: Annotated[
        list[str] | None,
        typer.Option(
            "--edge",
            metavar="UP:DOWN",
            help="An edge, repeatable: UP's result goes to DOWN.",
            show_default=False,
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            metavar="FILE",
            help="Read the DAG from a YAML (or JSON) file: name, functions, edges.",
        ),
    ] = None,
    address: AddressOption = None,
) -> None:
    """Register a DAG (replacing one of the same name) from flags or a YAML file."""
    if file is not None:
        if functions or edges:
            raise fail("give the DAG either with -f FILE or with --function/--edge, not both")
        spec = load_dag_file(file, name)
    else:
        if name is None:
            raise fail("a DAG needs a NAME (or -f FILE)")
        pairs = [parse_edge(e) for e in edges or []]
        spec = DagSpec(name, with_edge_functions(functions or [], pairs), pairs)
    if not spec.functions:
        raise fail("a DAG needs at least one function (--function NAME)")
    with connect(ctx, address) as cloud:
        cloud.register_dag(spec.name, spec.functions, spec.edges)
    n_fns, n_edges = len(spec.functions), len(spec.edges)
    done(
        f"registered dag {spec.name!r}: {n_fns} function{'s' * (n_fns != 1)}, "
        f"{n_edges} edge{'s' * (n_edges != 1)}"
    )


@dag_app.command("call")
def call_dag(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The DAG to call.")],
    args: Annotated[
        list[str] | None,
        typer.Option(
            "--arg",
            "-a",
            metavar="FUNCTION=JSON",
            help="An argument for a function, repeatable (several append in order); the "
            "value is JSON, or a string when it is a bare word (text that starts like JSON "
            "but is not valid is an error).",
            show_default=False,
        ),
    ] = None,
    detach: Annotated[
        bool,
        typer.Option(
            "--async", help="Do not wait: print the call id (read it with `cbctl result ID`)."
        ),
    ] = False,
    output_key: Annotated[
        str | None,
        typer.Option("--output-key", help="Also store the result under this key."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=0.0,
            help="Seconds to wait for the result.",
            show_default="CLOUDBURST_CALL_TIMEOUT or 300",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"call_id": ..., "result": ...} as JSON.')
    ] = False,
    verbose: VerboseOption = False,
    address: AddressOption = None,
) -> None:
    """Call a DAG and print its sink's result (--verbose: its call id on stderr)."""
    use_json(as_json)
    arg_map = parse_dag_args(args or [])
    with connect(ctx, address, timeout=timeout, verbose=verbose) as cloud:
        future = cloud.call_dag(name, arg_map, output_key=output_key, detach=detach)
        remember_call(cloud.address, future.obj_id)
        if detach:
            if as_json:
                echo_json({"call_id": future.obj_id})
            else:
                typer.echo(future.obj_id)
            return
        with reporting_errors(verbose, call_id=future.obj_id):
            if verbose and not as_json:
                note(f"call {future.obj_id}")
            with waiting(f"waiting for dag {name} (call {future.obj_id})…"):
                value = future.get()
    print_result(future.obj_id, value, as_json)


@dag_app.command("list")
def list_dags(
    ctx: typer.Context,
    prefix: Annotated[
        str | None, typer.Option("--prefix", "-p", help="Only names starting with this.")
    ] = None,
    as_json: JsonOption = False,
    address: AddressOption = None,
) -> None:
    """List registered DAGs (one name a line; --json: a JSON list)."""
    use_json(as_json)
    with connect(ctx, address) as cloud:
        names = sorted(cloud.list_dags(prefix))
    echo_names(names, as_json, "DAGs")


@dag_app.command("describe")
def describe(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The DAG to show.")],
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the DAG as JSON, in the format `dag create -f` reads."),
    ] = False,
    address: AddressOption = None,
) -> None:
    """Draw a DAG as a tree, from its sources down to its sink."""
    use_json(as_json)
    with connect(ctx, address) as cloud:
        functions, connections = cloud.get_dag(name)
    spec = DagSpec(name, functions, connections)
    if as_json:
        echo_json(spec.to_json())
    else:
        console.print(dag_tree(spec))


@dag_app.command("delete")
def delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The DAG to remove.")],
    address: AddressOption = None,
) -> None:
    """Remove a DAG (its functions stay registered)."""
    with connect(ctx, address) as cloud:
        cloud.delete_dag(name)
    done(f"deleted dag {name!r}")


__all__ = [
    "DagSpec",
    "dag_app",
    "dag_tree",
    "load_dag_file",
    "parse_dag_args",
    "parse_edge",
    "with_edge_functions",
]
