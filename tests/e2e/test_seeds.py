"""The examples of the seed documents, run verbatim against a real local cluster."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from _seeds import SEEDS, parse, run_session
from cloudburst import InvalidDagError
from cloudburst_management import LocalCluster

pytestmark = pytest.mark.e2e


def test_readme_quickstart(cluster: LocalCluster) -> None:
    """The README's interactive example prints 4 for the function and for the DAG."""
    results = run_session("readme_quickstart.txt", {"__name__": "__main__"})
    assert [v for s, v in results if s.expected] == [4, 4]
    registered = next(v for s, v in results if "register_dag" in s.source)
    assert registered == (True, 0)


def test_readme_test_script_output(cluster: LocalCluster) -> None:
    """The README's `python3 test.py` check prints 4, (True, 0), 4."""
    script = textwrap.dedent(
        """
        from cloudburst.client.client import CloudburstConnection
        local_cloud = CloudburstConnection('127.0.0.1', '127.0.0.1', local=True)
        cloud_sq = local_cloud.register(lambda _, x: x * x, 'square')
        print(cloud_sq(2).get())
        print(local_cloud.register_dag('dag', ['square'], []))
        print(local_cloud.call_dag('dag', { 'square': [2] }).get())
        """
    )
    env = dict(os.environ, CLOUDBURST_SCHEDULER_PORT=str(cluster.scheduler_port))
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "4\n(True, 0)\n4\n"


def test_function_execution_guide(cluster: LocalCluster) -> None:
    """The function-execution guide: incr, square, and the incr->square DAG give 2, 4, 4."""
    namespace: dict[str, Any] = {
        "__name__": "__main__",
        # The guide leaves these two for the reader to fill in; stray whitespace included.
        "AWS_FUNCTION_ELB": "127.0.0.1 ",
        "MY_IP": "127.0.0.1",
    }
    results = run_session("function_execution.txt", namespace)
    assert [v for s, v in results if s.expected and s.expected != "True"] == [2, 4, 4]


def test_function_execution_guide_class(cluster: LocalCluster) -> None:
    """The guide's class template registers and runs once its placeholders are defined."""
    source = (SEEDS / "function_execution_class.txt").read_text()
    namespace: dict[str, Any] = {"__name__": "__main__", "init_arg": 7, "result": "done"}
    from cloudburst.client.client import CloudburstConnection

    namespace["cloud"] = CloudburstConnection("127.0.0.1", "127.0.0.1", local=True)
    namespace["expensive_operation"] = lambda arg: arg * 2
    exec(compile(source, "function_execution_class.txt", "exec"), namespace)
    handle = namespace["cloud"].register((namespace["Expensive"], 7), "expensive_class")
    assert handle(1).get() == "done"


def test_readme_with_blank_addresses(cluster: LocalCluster) -> None:
    """A copy of the README with blank addresses reaches the local cluster all the same."""
    results = run_session("readme_blank_addresses.txt", {"__name__": "__main__"})
    values = [v for s, v in results if s.source.endswith(".get()")]
    assert values == [4, 4]


def test_droplet_readme(cluster: LocalCluster) -> None:
    """The project's earlier README (Droplet): the import path and client work; its two typos
    (`.get` without a call, a function passed as the connections) fail clearly."""
    steps = parse((SEEDS / "droplet_readme.txt").read_text())
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for step in steps[:3]:
        exec(step.source, namespace)
    assert namespace["cloud_sq"](2).get() == 4
    assert callable(eval(steps[3].source, namespace))  # `.get` is the method itself
    namespace["square"] = lambda _, x: x * x  # the typo's name, defined so the call can run
    with pytest.raises(InvalidDagError, match="connections"):
        eval(steps[4].source, namespace)
    namespace["local_cloud"].register_dag("dag", ["square"], [])
    assert eval(steps[5].source, namespace) == 4
