"""cbctl: run a local Cloudburst cluster and drive it from a shell.

The commands live in private modules: ``_cluster`` (up, down, status, logs), ``_functions``
(register, call, result, functions ...), ``_dags`` (dag ...), ``_state`` (keys ..., get, put) and
``_trace`` (trace, which reads the local cluster's span files). They talk to a cluster only
through the SDK's ``CloudburstConnection``; ``_client`` chooses the address and turns SDK
errors into one line on stderr and exit status 1.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import metadata
from typing import Annotated, Any

import typer
from cloudburst_protocol import config
from typer import _click
from typer.core import TyperGroup

from cloudburst_cli import _cluster, _functions, _state, _trace
from cloudburst_cli._client import (
    DEFAULT_CONNECT_TIMEOUT_S,
    ConnectTimeoutOption,
    GlobalAddressOption,
    Settings,
)
from cloudburst_cli._dags import dag_app
from cloudburst_cli._functions import functions_app
from cloudburst_cli._output import fail, use_json
from cloudburst_cli._tls import adopt_local_tls


class OneLineErrors(TyperGroup):
    """The top-level command: a usage error (unknown option, missing argument, bad value) is
    one line on stderr, ``error: ... (see `cbctl CMD --help`)``, and exit status 1, like
    every other cbctl error, instead of click's box and status 2."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        use_json(False)  # until the command asks for JSON (one process may run several)
        try:
            code = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except _click.exceptions.NoArgsIsHelpError:
            code = 0  # a group called bare: its help is already printed
        except _click.exceptions.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "cbctl"
            message = " ".join(exc.format_message().split())
            code = fail(f"{message} (see `{where} --help`)", error_type="UsageError").exit_code
        except _click.exceptions.ClickException as exc:
            code = fail(" ".join(exc.format_message().split())).exit_code
        except typer.Abort:
            code = fail("aborted", code=130).exit_code
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cbctl {metadata.version('cloudburst-cli')}")
        raise typer.Exit()


_EXAMPLES = """\
Examples:

    cbctl up

    cbctl register funcs.py:square   (funcs.py defines square(cloudburst, x), inc(...))

    cbctl register funcs.py:inc

    cbctl call square 3

    cbctl call square 3 --async   (prints a call id; then: cbctl result ID)

    cbctl dag create pipeline --function inc --function square --edge inc:square

    cbctl dag call pipeline --arg inc=1   (prints 4)

    cbctl keys put greeting '"hello"'   then   cbctl keys get greeting   (or get/put)

    cbctl keys list --prefix greet

    cbctl --address 10.0.0.5:7070 functions list --json

    cbctl trace --last   (the latest call's spans as a waterfall)
"""

app = typer.Typer(
    name="cbctl",
    help="Cloudburst: low-latency, stateful functions-as-a-service. Manage a local cluster, "
    "register and call functions and DAGs, read and write state.",
    epilog=_EXAMPLES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=OneLineErrors,
)


@app.callback()
def _global_options(
    ctx: typer.Context,
    address: GlobalAddressOption = None,
    connect_timeout: ConnectTimeoutOption = DEFAULT_CONNECT_TIMEOUT_S,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print cbctl's version and exit."
        ),
    ] = False,
) -> None:
    """Cloudburst: low-latency, stateful functions-as-a-service."""
    ctx.obj = Settings(address=address, connect_timeout=connect_timeout)
    adopt_local_tls(config.home())


app.command(rich_help_panel="Local cluster")(_cluster.up)
app.command(rich_help_panel="Local cluster")(_cluster.down)
app.command(rich_help_panel="Local cluster")(_cluster.status)
app.command(rich_help_panel="Local cluster")(_cluster.logs)
app.command(rich_help_panel="Functions and DAGs")(_functions.register)
app.command(rich_help_panel="Functions and DAGs")(_functions.call)
app.command(rich_help_panel="Functions and DAGs")(_functions.result)
app.add_typer(functions_app, name="functions", rich_help_panel="Functions and DAGs")
app.add_typer(dag_app, name="dag", rich_help_panel="Functions and DAGs")
app.add_typer(_state.keys_app, name="keys", rich_help_panel="State")
app.command(rich_help_panel="State", help="Print the value stored at a key (= keys get).")(
    _state.get
)
app.command(rich_help_panel="State", help="Store a value (JSON) at a key (= keys put).")(_state.put)
app.command(rich_help_panel="Observability")(_trace.trace)

__all__ = ["app"]


if __name__ == "__main__":
    app()
