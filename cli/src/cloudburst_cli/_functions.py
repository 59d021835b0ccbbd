"""Functions: ``cbctl register``, ``call``, ``result`` and ``cbctl functions list/delete``."""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer

from cloudburst_cli._client import (
    AddressOption,
    JsonOption,
    VerboseOption,
    connect,
    parse_arg,
    parse_json,
    reporting_errors,
)
from cloudburst_cli._output import (
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

functions_app = typer.Typer(
    help="Registered functions.\n\n"
    "Examples:\n\n"
    "    cbctl functions list\n\n"
    "    cbctl functions list --prefix img_ --json\n\n"
    "    cbctl functions delete square",
    no_args_is_help=True,
)

TimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=0.0,
        help="Seconds to wait for the result.",
        show_default="CLOUDBURST_CALL_TIMEOUT or 300",
    ),
]

_MISSING: Any = object()
_CALL_ID = re.compile(r"[0-9a-f]{32}")
_LOADED_MARK = "__cbctl_loaded__"


def _module_name(path: Path) -> str:
    """The file's stem, unless that names a module already imported from elsewhere (a user
    file called ``json.py`` must not replace the standard library's)."""
    stem = path.stem if path.stem.isidentifier() else "user_module"
    existing = sys.modules.get(stem)
    if existing is None or getattr(existing, _LOADED_MARK, False):
        return stem
    return f"cbctl_{stem}"


def load_module(file: str) -> ModuleType:
    """Imports a Python file by path, as ``python FILE`` would (its folder on ``sys.path``
    while it loads). The module stays in ``sys.modules`` so the SDK sends its code by value."""
    path = Path(file).expanduser()
    if not path.is_file():
        raise fail(f"no such file: {file}")
    name = _module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise fail(f"{file} is not a Python file (expected a .py file)")
    module = importlib.util.module_from_spec(spec)
    setattr(module, _LOADED_MARK, True)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)
        raise fail(f"cannot load {file}: {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(folder)
    return module


def load_target(target: str) -> tuple[str, Any]:
    """``FILE.py:NAME`` -> ``(NAME, the object)``; every problem is one line and exit 1."""
    file, sep, attr = target.rpartition(":")
    if not sep or not file or not attr:
        raise fail(f"expected FILE.py:NAME (e.g. funcs.py:square), got {target!r}")
    module = load_module(file)
    obj = getattr(module, attr, _MISSING)
    if obj is _MISSING:
        defined = sorted(
            key
            for key, value in vars(module).items()
            if not key.startswith("_")
            and (inspect.isfunction(value) or inspect.isclass(value))
            and getattr(value, "__module__", None) == module.__name__
        )
        known = f"; it defines: {', '.join(defined)}" if defined else ""
        raise fail(f"{file} has no attribute {attr!r}{known}")
    return attr, obj


def register(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="FILE.py:NAME", help="A function or a class (with a run method) in a file."
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option("--name", help="Register under this name.", show_default="NAME"),
    ] = None,
    init_args: Annotated[
        str | None,
        typer.Option(
            "--init-args",
            metavar="JSON",
            help="For a class: its constructor's arguments as a JSON list, e.g. '[10, \"x\"]'.",
            show_default=False,
        ),
    ] = None,
    address: AddressOption = None,
) -> None:
    """Register a function, or a class, defined in a Python file."""
    attr, obj = load_target(target)
    file = target.rpartition(":")[0]
    function: Any
    if isinstance(obj, type):
        if not callable(getattr(obj, "run", None)):
            raise fail(f"class {attr} in {file} has no run method; a registered class needs one")
        args = [] if init_args is None else parse_json(init_args, "--init-args")
        if not isinstance(args, list):
            raise fail(f"--init-args takes a JSON list of arguments, e.g. '[{init_args}]'")
        function, kind = (obj, tuple(args)), "class"
    elif callable(obj):
        if init_args is not None:
            raise fail(f"--init-args is for classes; {attr} in {file} is a function")
        function, kind = obj, "function"
    else:
        kind_of = type(obj).__name__
        raise fail(f"{attr} in {file} is not a function or a class (it is of type {kind_of})")
    registered = name if name is not None else attr
    with connect(ctx, address) as cloud:
        cloud.register(function, registered)
    done(f"registered {kind} {registered!r} from {target}")


def call(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The registered function.")],
    args: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="ARG",
            help="Arguments, each parsed as JSON (3, 2.5, true, null, '[1, 2]', "
            "'{\"k\": 1}', '\"3\"'); a bare word (hello) is passed as a string, while text "
            "that starts like JSON but is not valid is an error. "
            "Put -- before arguments that start with a dash: cbctl call f -- -3.",
            show_default=False,
        ),
    ] = None,
    detach: Annotated[
        bool,
        typer.Option(
            "--async", help="Do not wait: print the call id (read it with `cbctl result ID`)."
        ),
    ] = False,
    timeout: TimeoutOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"call_id": ..., "result": ...} as JSON.')
    ] = False,
    verbose: VerboseOption = False,
    address: AddressOption = None,
) -> None:
    """Call a registered function and print its result (--verbose: its call id on stderr).
    Ctrl-C cancels the call (where it runs, too) and prints its id."""
    use_json(as_json)
    values = [parse_arg(a, f"ARG {i}") for i, a in enumerate(args or [], 1)]
    with connect(ctx, address, timeout=timeout, verbose=verbose) as cloud:
        if detach:
            future = cloud.exec_func(name, values, detach=True)
            remember_call(cloud.address, future.obj_id)
            if as_json:
                echo_json({"call_id": future.obj_id})
            else:
                typer.echo(future.obj_id)
            return
        future = cloud.exec_func(name, values)
        remember_call(cloud.address, future.obj_id)
        with reporting_errors(verbose, call_id=future.obj_id):
            try:
                if verbose and not as_json:
                    note(f"call {future.obj_id}")
                with waiting(f"waiting for {name} (call {future.obj_id})…"):
                    value = future.get()
            except KeyboardInterrupt:
                future.cancel()
                raise fail(
                    f"interrupted: cancelled call {future.obj_id} where it runs",
                    error_type="Cancelled",
                    code=130,
                    call_id=future.obj_id,
                ) from None
    print_result(future.obj_id, value, as_json)


def result(
    ctx: typer.Context,
    call_id: Annotated[str, typer.Argument(metavar="ID", help="A call id from --async.")],
    timeout: TimeoutOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"call_id": ..., "result": ...} as JSON.')
    ] = False,
    verbose: VerboseOption = False,
    address: AddressOption = None,
) -> None:
    """Wait for the result of a call started with --async and print it."""
    use_json(as_json)
    call_id = call_id.strip().lower()
    if not _CALL_ID.fullmatch(call_id):
        raise fail(f"{call_id!r} is not a call id (32 hex digits, as `cbctl call --async` prints)")
    with connect(ctx, address, verbose=verbose) as cloud:
        if cloud.call_state(call_id) == "unknown":
            raise fail(
                f"call {call_id} is unknown: the scheduler has no such call pending and no "
                "result is stored (a wrong id, a result past CLOUDBURST_RESULT_TTL, or a "
                "direct call still running elsewhere, known once it ends)",
                error_type="KeyNotFoundError",
                call_id=call_id,
            )
        with (
            reporting_errors(verbose, call_id=call_id),
            waiting(f"waiting for call {call_id}…"),
        ):
            value = cloud.future(call_id).get(timeout=timeout)
    print_result(call_id, value, as_json)


@functions_app.command("list")
def list_functions(
    ctx: typer.Context,
    prefix: Annotated[
        str | None, typer.Option("--prefix", "-p", help="Only names starting with this.")
    ] = None,
    as_json: JsonOption = False,
    address: AddressOption = None,
) -> None:
    """List registered functions (one name a line; --json: a JSON list)."""
    use_json(as_json)
    with connect(ctx, address) as cloud:
        names = sorted(cloud.list(prefix))
    echo_names(names, as_json, "functions")


@functions_app.command("delete")
def delete_function(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The function to remove.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Delete it even when DAGs use it (their calls then fail)."),
    ] = False,
    address: AddressOption = None,
) -> None:
    """Remove a registered function (refused while a DAG uses it, unless --force)."""
    with connect(ctx, address) as cloud:
        cloud.delete_function(name, force=force)
    done(f"deleted function {name!r}")


__all__ = ["call", "functions_app", "load_module", "load_target", "register", "result"]
