"""DAG validation and shape: pure functions, no I/O.

A DAG is valid when it names at least one function, each once; every connection joins two
listed functions; there is no cycle; and exactly one function has no downstream (the sink,
whose result is the call's result). A function with several upstreams receives their results
as positional arguments in the order the DAG lists its functions, after its own explicit
arguments.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cloudburst_protocol.errors import (
    FunctionInUseError,
    FunctionNotFoundError,
    InvalidArgumentError,
    InvalidDagError,
)
from cloudburst_protocol.keys import MAX_DAG_FUNCTIONS, check_name


@dataclass(frozen=True, slots=True)
class DagShape:
    name: str
    functions: tuple[str, ...]
    connections: tuple[tuple[str, str], ...]
    upstream: dict[str, tuple[str, ...]]
    downstream: dict[str, tuple[str, ...]]
    sources: tuple[str, ...]
    sink: str
    version: str = field(default="")

    def __post_init__(self) -> None:
        if self.name and not self.version:
            text = repr((self.functions, self.connections)).encode()
            object.__setattr__(self, "version", hashlib.sha256(text).hexdigest()[:16])


def validate_dag(
    name: str,
    functions: Sequence[str],
    connections: Iterable[tuple[str, str]],
    registered: set[str] | None = None,
) -> DagShape:
    """Checks a DAG definition and returns its shape; raises a typed error naming the problem.

    ``registered`` is the set of known function names (``None`` skips that check).
    """
    if not name or not name.strip():
        raise InvalidDagError("a DAG needs a non-empty name")
    try:
        check_name("DAG", name)
    except InvalidArgumentError as exc:
        raise InvalidDagError(str(exc)) from None
    fns = tuple(functions)
    if not fns:
        raise InvalidDagError(f"DAG {name!r} lists no functions")
    if len(fns) > MAX_DAG_FUNCTIONS:
        raise InvalidDagError(
            f"DAG {name!r} lists {len(fns)} functions; a DAG has at most {MAX_DAG_FUNCTIONS}"
        )
    seen: set[str] = set()
    for fn in fns:
        if not isinstance(fn, str) or not fn:
            raise InvalidDagError(f"DAG {name!r}: function names must be non-empty strings")
        if fn in seen:
            raise InvalidDagError(f"DAG {name!r} lists function {fn!r} twice")
        seen.add(fn)
    if registered is not None:
        missing = [fn for fn in fns if fn not in registered]
        if missing:
            raise FunctionNotFoundError(
                f"DAG {name!r} uses unregistered function(s): {', '.join(map(repr, missing))}"
            )
    edges: list[tuple[str, str]] = []
    for edge in connections:
        source, target = edge
        for end in (source, target):
            if end not in seen:
                raise InvalidDagError(
                    f"DAG {name!r}: connection ({source!r}, {target!r}) names {end!r}, "
                    "which is not in the DAG's function list"
                )
        if source == target:
            raise InvalidDagError(f"DAG {name!r}: function {source!r} is connected to itself")
        if (source, target) in edges:
            raise InvalidDagError(f"DAG {name!r}: connection ({source!r}, {target!r}) is repeated")
        edges.append((source, target))
    order = {fn: i for i, fn in enumerate(fns)}
    upstream = {
        fn: tuple(sorted((s for s, t in edges if t == fn), key=order.__getitem__)) for fn in fns
    }
    downstream = {
        fn: tuple(sorted((t for s, t in edges if s == fn), key=order.__getitem__)) for fn in fns
    }
    _check_acyclic(name, fns, downstream)
    sinks = [fn for fn in fns if not downstream[fn]]
    if len(sinks) != 1:
        raise InvalidDagError(
            f"DAG {name!r} must have exactly one sink (a function with no downstream); "
            f"it has {len(sinks)}: {', '.join(map(repr, sinks))}"
        )
    sources = tuple(fn for fn in fns if not upstream[fn])
    return DagShape(name, fns, tuple(edges), upstream, downstream, sources, sinks[0])


def _check_acyclic(name: str, fns: tuple[str, ...], downstream: dict[str, tuple[str, ...]]) -> None:
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(fns, white)
    for root in fns:
        if color[root] != white:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        color[root] = grey
        while stack:
            node, index = stack[-1]
            children = downstream[node]
            if index < len(children):
                stack[-1] = (node, index + 1)
                child = children[index]
                if color[child] == grey:
                    cycle = [*path[path.index(child) :], child]
                    raise InvalidDagError(f"DAG {name!r} has a cycle: {' -> '.join(cycle)}")
                if color[child] == white:
                    color[child] = grey
                    stack.append((child, 0))
                    path.append(child)
            else:
                color[node] = black
                stack.pop()
                path.pop()


def single_function(name: str) -> DagShape:
    """The shape of a one-function call."""
    return DagShape("", (name,), (), {name: ()}, {name: ()}, (name,), name)


def check_deletable(function: str, dags: Mapping[str, Sequence[str]], force: bool) -> None:
    """Raises :class:`FunctionInUseError` naming the DAGs (name -> their functions) that use
    ``function``, unless there are none or ``force`` is set (the DAGs then fail at call time
    with :class:`FunctionNotFoundError`)."""
    users = sorted(name for name, functions in dags.items() if function in functions)
    if users and not force:
        raise FunctionInUseError(
            f"function {function!r} is used by DAG{'s' if len(users) > 1 else ''} "
            f"{', '.join(users)}; delete {'them' if len(users) > 1 else 'it'} first, or "
            "force the delete (force=True, cbctl functions delete --force)"
        )
