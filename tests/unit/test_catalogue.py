"""The settings catalogue is complete: every CLOUDBURST_* variable the code reads is declared
once, and every declared one is read somewhere."""

from __future__ import annotations

import re
from pathlib import Path

from cloudburst_protocol.catalogue import BY_NAME, SETTINGS

REPO = Path(__file__).resolve().parents[2]
SOURCES = [
    *REPO.glob("services/*/src/**/*.py"),
    *REPO.glob("libs/*/src/**/*.py"),
    *REPO.glob("sdk/src/**/*.py"),
    *REPO.glob("cli/src/**/*.py"),
]
NAME = re.compile(r"[\"'](CLOUDBURST_[A-Z0-9_]+)[\"']")
CATALOGUE = REPO / "libs/protocol/src/cloudburst_protocol/catalogue.py"


def names_in_code() -> set[str]:
    return {
        match
        for path in SOURCES
        if path != CATALOGUE and "/gen/" not in str(path)
        for match in NAME.findall(path.read_text())
    }


def test_every_setting_the_code_reads_is_declared() -> None:
    """A CLOUDBURST_* name written in the code has an entry in the catalogue."""
    missing = sorted(names_in_code() - set(BY_NAME))
    assert not missing, f"declare these in cloudburst_protocol.catalogue: {missing}"


def test_every_declared_setting_is_read() -> None:
    """The catalogue names nothing the code does not read."""
    unused = sorted(set(BY_NAME) - names_in_code())
    assert not unused, f"the catalogue declares settings nothing reads: {unused}"


def test_each_setting_is_declared_once_with_help() -> None:
    """One entry per name, each with a line of help."""
    assert len(BY_NAME) == len(SETTINGS)
    assert all(s.help.strip() and s.kind.strip() for s in SETTINGS)
