"""The Makefile's promises to a newcomer, read from `make -n` (nothing is run)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(target: str) -> str:
    done = subprocess.run(
        ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def test_make_up_installs_no_system_packages() -> None:
    """`make up` (the embedded storage) runs no apt-get and needs no redis-server, and
    says how to put cbctl on PATH."""
    plan = dry_run("up")
    assert "apt-get" not in plan
    assert "redis" not in plan
    assert "cbctl up" in plan
    assert "source .venv/bin/activate" in plan


def test_make_test_still_installs_what_the_tests_need() -> None:
    """`make test` installs redis-server when it is missing (the Redis storage tests)."""
    assert "apt-get install" in dry_run("test")
    assert "apt-get" not in dry_run("install")
