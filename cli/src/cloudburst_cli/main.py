"""cbctl: run a local Cloudburst cluster and drive it from a shell.

The commands live in private modules: ``_cluster`` (up, down, status, logs), ``_functions``
(register, call, result, functions ...), ``_dags`` (dag ...), ``_state`` (get, put) and
``_trace`` (trace, which reads the local cluster's span files). They talk to a cluster only
through the SDK's ``CloudburstConnection``; ``_client`` chooses the address and turns SDK
errors into one line on stderr and exit status 1.
"""

from __future__ import annotations

import typer
from cloudburst_protocol import config

from cloudburst_cli import _cluster, _functions, _state, _trace
from cloudburst_cli._client import (
    DEFAULT_CONNECT_TIMEOUT_S,
    ConnectTimeoutOption,
    GlobalAddressOption,
    Settings,
)
from cloudburst_cli._dags import dag_app
from cloudburst_cli._functions import functions_app
from cloudburst_cli._tls import adopt_local_tls

_EXAMPLES = """\
Examples:

    cbctl up

    cbctl register funcs.py:square

    cbctl call square 3

    cbctl call square 3 --async   (prints a call id; then: cbctl result ID)

    cbctl dag create pipeline --function inc --function square --edge inc:square

    cbctl dag call pipeline --arg inc=1

    cbctl put greeting '"hello"'   then   cbctl get greeting

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
)


@app.callback()
def _global_options(
    ctx: typer.Context,
    address: GlobalAddressOption = None,
    connect_timeout: ConnectTimeoutOption = DEFAULT_CONNECT_TIMEOUT_S,
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
app.command(rich_help_panel="State")(_state.get)
app.command(rich_help_panel="State")(_state.put)
app.command(rich_help_panel="Observability")(_trace.trace)

__all__ = ["app"]


if __name__ == "__main__":
    app()
