"""``python -m cloudburst_management.secrets_file PATH``: the secrets of a cluster in
containers, as an env file docker compose reads (``make compose-up`` writes compose/.env).

The file holds ``CLOUDBURST_CLUSTER_SECRET`` (kept if the file has one, else new) and
``CLOUDBURST_ADMIN_TOKEN``: the token in ``$CLOUDBURST_HOME/token`` (made if missing), so the
SDK and cbctl on the host present it without configuration, as they do for a local cluster.
Written with mode 0600.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cloudburst_protocol import auth, config


def _existing(path: Path) -> dict[str, str]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def write_env_file(path: Path, home: Path) -> None:
    """Writes (or refreshes) the env file at ``path`` for the user whose home is ``home``."""
    previous = _existing(path)
    auth.private_home(home)
    admin = auth.settle_token_file(home / auth.TOKEN_FILE)
    secret = previous.get(config.CLUSTER_SECRET_ENV) or auth.new_token()
    lines = [
        "# Written by `make compose-up` (cloudburst_management.secrets_file); keep it private.",
        f"{config.CLUSTER_SECRET_ENV}={secret}",
        f"{config.ADMIN_TOKEN_ENV}={admin}",
    ]
    auth.write_private(path, "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m cloudburst_management.secrets_file PATH\n")
        return 2
    write_env_file(Path(args[0]), config.home())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
