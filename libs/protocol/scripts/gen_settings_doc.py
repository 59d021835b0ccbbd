"""Write ``docs/settings.md`` from the settings catalogue (``cloudburst_protocol.catalogue``).

``python libs/protocol/scripts/gen_settings_doc.py`` rewrites the page; ``--check`` fails if
the committed page differs (``make test`` runs it), so the page cannot drift from the code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cloudburst_protocol.catalogue import render_markdown

PAGE = Path(__file__).resolve().parents[3] / "docs" / "settings.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the page is stale")
    args = parser.parse_args(argv)
    wanted = render_markdown()
    if args.check:
        current = PAGE.read_text() if PAGE.exists() else ""
        if current != wanted:
            sys.stderr.write(f"{PAGE} is stale: run `make settings-doc`\n")
            return 1
        return 0
    PAGE.write_text(wanted)
    sys.stderr.write(f"wrote {PAGE}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
