"""State: ``cbctl keys list/get/put/delete`` on the cluster's key-value store (``cbctl get``
and ``cbctl put`` are the same as ``keys get`` and ``keys put``)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cloudburst_cli._client import AddressOption, JsonOption, connect, parse_json
from cloudburst_cli._output import done, echo_json, echo_names, echo_value, fail, use_json

keys_app = typer.Typer(
    help="The key-value store.\n\n"
    "Examples:\n\n"
    "    cbctl keys put config '{\"threshold\": 0.5}'\n\n"
    "    cbctl keys get config --json\n\n"
    "    cbctl keys list --prefix conf\n\n"
    "    cbctl keys delete config",
    no_args_is_help=True,
)


def get(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(metavar="KEY", help="The key to read.")],
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"key": ..., "value": ...} as JSON.')
    ] = False,
    address: AddressOption = None,
) -> None:
    """Print the value stored at a key."""
    use_json(as_json)
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


def list_keys(
    ctx: typer.Context,
    prefix: Annotated[
        str | None, typer.Option("--prefix", "-p", help="Only keys starting with this.")
    ] = None,
    as_json: JsonOption = False,
    address: AddressOption = None,
) -> None:
    """List stored keys (one a line; --json: a JSON list). Call results are stored under
    their call ids until they expire."""
    use_json(as_json)
    with connect(ctx, address) as cloud:
        names = cloud.list_objects(prefix)
    echo_names(names, as_json, "keys")


def delete(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(metavar="KEY", help="The key to remove.")],
    address: AddressOption = None,
) -> None:
    """Remove a key and its value."""
    with connect(ctx, address) as cloud:
        if key not in cloud.list_objects(key):  # a missing key is an error, not a no-op
            raise fail(f"KeyNotFoundError: key {key!r} is not in the store")
        cloud.delete_object(key)
    done(f"deleted {key!r}")


keys_app.command("list")(list_keys)
keys_app.command("get")(get)
keys_app.command("put")(put)
keys_app.command("delete")(delete)

__all__ = ["delete", "get", "keys_app", "list_keys", "put"]
