"""State: ``cbctl get`` and ``cbctl put`` on the cluster's key-value store."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cloudburst_cli._client import AddressOption, connect, parse_json
from cloudburst_cli._output import done, echo_json, echo_value


def get(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(metavar="KEY", help="The key to read.")],
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"key": ..., "value": ...} as JSON.')
    ] = False,
    address: AddressOption = None,
) -> None:
    """Print the value stored at a key."""
    with connect(ctx, address) as cloud:
        value = cloud.get_object(key)
    if as_json:
        echo_json({"key": key, "value": value})
    else:
        echo_value(value)


def put(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(metavar="KEY", help="The key to write.")],
    value: Annotated[
        str,
        typer.Argument(
            metavar="JSON", help="The value, as JSON: 3, '\"text\"', '[1, 2]', '{\"a\": 1}'."
        ),
    ],
    address: AddressOption = None,
) -> None:
    """Store a value (JSON) at a key; the last writer wins."""
    quoted = json.dumps(value)
    parsed = parse_json(value, "the value", f"; to store text, quote it: '{quoted}'")
    with connect(ctx, address) as cloud:
        cloud.put_object(key, parsed)
    done(f"stored {key!r}")


__all__ = ["get", "put"]
