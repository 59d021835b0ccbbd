"""Runs an interactive session from the seed documents statement by statement, verbatim,
and checks each printed result the document shows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEEDS = Path(__file__).parent / "seeds"


@dataclass
class Step:
    source: str
    expected: str | None


def parse(text: str) -> list[Step]:
    steps: list[Step] = []
    for line in text.splitlines():
        if line.startswith(">>> "):
            steps.append(Step(line[4:], None))
        elif line.startswith("... ") and steps:
            steps[-1].source += "\n" + line[4:]
        elif line.strip() and not line.startswith("#") and steps:
            shown = line.split("#", 1)[0].strip()
            previous = steps[-1].expected
            steps[-1].expected = shown if previous is None else previous + "\n" + shown
    return steps


def run_session(name: str, namespace: dict[str, Any]) -> list[tuple[Step, Any]]:
    """Runs ``seeds/<name>``; returns each step with its value. Fails on the first mismatch."""
    results = []
    for step in parse((SEEDS / name).read_text()):
        try:
            code = compile(step.source, f"<{name}>", "eval")
        except SyntaxError:
            exec(compile(step.source, f"<{name}>", "exec"), namespace)
            value = None
        else:
            value = eval(code, namespace)
        if step.expected is not None:
            if step.expected == "True":
                # The original returned True here; we return (True, 0), which is truthy.
                assert value, f"{step.source!r} gave {value!r}, expected a truthy result"
            else:
                assert repr(value) == step.expected, (
                    f"{step.source!r} printed {value!r}, the document shows {step.expected}"
                )
        results.append((step, value))
    return results
