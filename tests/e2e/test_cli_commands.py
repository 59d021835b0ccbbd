"""cbctl register / call / result / functions / dag / get / put against the shared local
cluster, driven in-process with Typer's CliRunner and, for a few, as the installed command."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from cloudburst_cli._output import waiting
from cloudburst_cli.main import app
from cloudburst_management import LocalCluster
from rich.console import Console
from typer.testing import CliRunner, Result

pytestmark = pytest.mark.e2e

CBCTL = str(Path(sys.executable).parent / "cbctl")
NO_CLUSTER = "127.0.0.1:1"

FUNCS = """
class Rejected(Exception):
    pass


def square(_, x):
    return x * x


def join(_, *parts):
    return "".join(str(p) for p in parts)


def describe(_, value):
    return {"type": type(value).__name__, "value": value}


def boom(_, x):
    raise Rejected(f"cannot take {x}")


def pair(_, x):
    return (x, x)


def slow(_, seconds):
    import time

    time.sleep(seconds)
    return seconds


def inc(_, x):
    return x + 1


def add(_, *values):
    return sum(values)


class Scaler:
    def __init__(self, factor, offset):
        self.factor = factor
        self.offset = offset

    def run(self, x):
        return x * self.factor + self.offset


class NoRun:
    pass


LIMIT = 3
"""


@pytest.fixture(scope="module")
def prefix() -> str:
    """A unique name prefix for what this module registers on the shared cluster."""
    return f"c{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def funcs_file(tmp_path_factory: pytest.TempPathFactory, prefix: str) -> Path:
    """A user file of functions and classes, as a person would write one."""
    path = tmp_path_factory.mktemp("user") / f"{prefix}_funcs.py"
    path.write_text(FUNCS)
    return path


@pytest.fixture(scope="module")
def address(cluster: LocalCluster) -> str:
    return cluster.scheduler_address


@pytest.fixture(scope="module")
def registered(address: str, funcs_file: Path, prefix: str) -> dict[str, str]:
    """The file's functions registered as ``<prefix>_<function>``; maps function to name."""
    names = {}
    for function in ("square", "join", "describe", "boom", "pair", "slow", "inc", "add"):
        names[function] = f"{prefix}_{function}"
        done = run(address, "register", f"{funcs_file}:{function}", "--name", names[function])
        assert done.exit_code == 0, done.output
    return names


def run(address: str | None, *args: str, env: dict[str, str] | None = None) -> Result:
    """cbctl in-process; ``address`` goes in as the global --address when given."""
    head = ["--address", address] if address is not None else []
    return CliRunner().invoke(app, [*head, *args], env=env)


def cbctl(*args: str, address: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The installed cbctl, with the address in CLOUDBURST_ADDRESS."""
    env = dict(os.environ, CLOUDBURST_ADDRESS=address, COLUMNS="200")
    return subprocess.run(
        [CBCTL, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def assert_one_error_line(done: Result | subprocess.CompletedProcess[str], *needles: str) -> str:
    """The command failed with status 1 and one line on stderr (no traceback) containing
    every needle; returns that line."""
    code = done.exit_code if isinstance(done, Result) else done.returncode
    assert code == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    if isinstance(done, Result):
        assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_register_function_and_call_with_json_args(
    address: str, funcs_file: Path, name: str
) -> None:
    """FILE.py:FUNC registers (as FUNC or --name); call parses JSON args, else strings."""
    module_file = funcs_file.parent / f"{name}_own.py"
    module_file.write_text("def double(_, x):\n    return 2 * x\n")
    done = run(address, "register", f"{module_file}:double")
    assert done.exit_code == 0, done.output
    assert "double" in done.stdout
    assert run(address, "call", "double", "21").stdout.strip() == "42"

    done = run(address, "register", f"{funcs_file}:describe", "--name", f"{name}_describe")
    assert done.exit_code == 0, done.output
    for arg, expected in [
        ("3", {"type": "int", "value": 3}),
        ("2.5", {"type": "float", "value": 2.5}),
        ('"3"', {"type": "str", "value": "3"}),
        ("hello", {"type": "str", "value": "hello"}),
        ("[1, 2]", {"type": "list", "value": [1, 2]}),
        ('{"k": [true, null]}', {"type": "dict", "value": {"k": [True, None]}}),
    ]:
        done = run(address, "call", f"{name}_describe", arg, "--json")
        assert done.exit_code == 0, done.output
        reply = json.loads(done.stdout)
        assert reply["result"] == expected
        assert len(reply["call_id"]) == 32
        human = run(address, "call", f"{name}_describe", arg)
        assert json.loads(human.stdout) == expected


def test_call_prints_repr_for_values_json_cannot_hold(
    address: str, registered: dict[str, str]
) -> None:
    """A tuple result prints as its repr; ARGs arrive in order; -- allows a leading dash."""
    assert run(address, "call", registered["pair"], "4").stdout.strip() == "(4, 4)"
    assert run(address, "call", registered["join"], "a", "1", "b").stdout.strip() == '"a1b"'
    assert run(address, "call", registered["square"], "--", "-3").stdout.strip() == "9"


def test_register_class_with_init_args(address: str, funcs_file: Path, name: str) -> None:
    """A class with run is registered with --init-args (a JSON list) and called."""
    done = run(
        address, "register", f"{funcs_file}:Scaler", "--name", name, "--init-args", "[10, 1]"
    )
    assert done.exit_code == 0, done.output
    assert "class" in done.stdout
    assert run(address, "call", name, "4").stdout.strip() == "41"


def test_async_call_then_result(address: str, registered: dict[str, str]) -> None:
    """call --async prints only the call id at once; result ID fetches the value later."""
    started = time.monotonic()
    done = run(address, "call", registered["slow"], "1.0", "--async")
    assert done.exit_code == 0, done.output
    assert time.monotonic() - started < 1.0
    call_id = done.stdout.strip()
    assert len(call_id) == 32
    assert "\n" not in call_id
    fetched = run(address, "result", call_id, "--timeout", "30", "--json")
    assert fetched.exit_code == 0, fetched.output
    assert json.loads(fetched.stdout) == {"call_id": call_id, "result": 1.0}
    again = run(address, "result", call_id)
    assert again.stdout.strip() == "1.0"

    as_json = run(address, "call", registered["square"], "5", "--async", "--json")
    assert run(address, "result", json.loads(as_json.stdout)["call_id"]).stdout.strip() == "25"


def test_functions_list_and_delete(
    address: str, registered: dict[str, str], prefix: str, funcs_file: Path
) -> None:
    """functions list --prefix [--json] lists exactly our names; functions delete removes one."""
    done = run(address, "functions", "list", "--prefix", prefix, "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == sorted(registered.values())
    plain = run(address, "functions", "list", "--prefix", prefix)
    assert plain.stdout.split() == sorted(registered.values())

    extra = f"{prefix}_extra"
    funcs = run(address, "functions", "list", "--json")
    assert extra not in json.loads(funcs.stdout)
    done = run(address, "register", f"{funcs_file}:inc", "--name", extra)
    assert done.exit_code == 0, done.output
    assert extra in json.loads(run(address, "functions", "list", "--json").stdout)
    assert run(address, "functions", "delete", extra).exit_code == 0
    assert extra not in json.loads(run(address, "functions", "list", "--json").stdout)
    assert_one_error_line(run(address, "functions", "delete", extra), "FunctionNotFoundError")


def test_dag_from_flags_call_list_describe_delete(
    address: str, registered: dict[str, str], name: str, tmp_path: Path
) -> None:
    """A flag-made DAG: call (--arg appends), list, describe tree and --json round trip, delete."""
    inc, square, add = registered["inc"], registered["square"], registered["add"]
    done = run(
        address,
        "dag",
        "create",
        name,
        "--function",
        inc,
        "--function",
        square,
        "--function",
        add,
        "--edge",
        f"{inc}:{add}",
        "--edge",
        f"{square}:{add}",
    )
    assert done.exit_code == 0, done.output

    # add receives its own arguments (100, 1000), then inc's (2) and square's (9) results.
    called = run(
        address,
        "dag",
        "call",
        name,
        "--arg",
        f"{inc}=1",
        "--arg",
        f"{square}=3",
        "--arg",
        f"{add}=100",
        "--arg",
        f"{add}=1000",
        "--json",
        "--output-key",
        f"{name}_out",
    )
    assert called.exit_code == 0, called.output
    assert json.loads(called.stdout)["result"] == 1111
    assert run(address, "get", f"{name}_out").stdout.strip() == "1111"

    detached = run(address, "dag", "call", name, "--arg", f"{inc}=0", "--arg", f"{square}=0")
    assert detached.stdout.strip() == "1"
    call_id = run(
        address, "dag", "call", name, "--arg", f"{inc}=5", "--arg", f"{square}=2", "--async"
    ).stdout.strip()
    assert run(address, "result", call_id).stdout.strip() == "10"

    assert name in json.loads(run(address, "dag", "list", "--json").stdout)
    assert name in run(address, "dag", "list").stdout.split()

    tree = run(address, "dag", "describe", name)
    assert tree.exit_code == 0, tree.output
    for function in (inc, square, add):
        assert function in tree.stdout
    assert "sink" in tree.stdout

    described = json.loads(run(address, "dag", "describe", name, "--json").stdout)
    assert described == {
        "name": name,
        "functions": [inc, square, add],
        "edges": [[inc, add], [square, add]],
    }
    copy_file = tmp_path / "described.json"
    copy_file.write_text(json.dumps(described))
    done = run(address, "dag", "create", "-f", str(copy_file), f"{name}_copy")
    assert done.exit_code == 0, done.output
    copied = json.loads(run(address, "dag", "describe", f"{name}_copy", "--json").stdout)
    assert copied == {**described, "name": f"{name}_copy"}

    for dag in (name, f"{name}_copy"):
        assert run(address, "dag", "delete", dag).exit_code == 0
    assert name not in json.loads(run(address, "dag", "list", "--json").stdout)
    assert_one_error_line(run(address, "dag", "describe", name), "DagNotFoundError", name)


def test_dag_from_yaml_file(
    address: str, registered: dict[str, str], name: str, tmp_path: Path
) -> None:
    """dag create -f reads YAML: name, functions, edges as "a:b" strings or pairs."""
    inc, square, add = registered["inc"], registered["square"], registered["add"]
    dag_file = tmp_path / "dag.yaml"
    dag_file.write_text(
        textwrap.dedent(
            f"""\
            name: {name}
            functions: [{inc}]
            edges:
              - {inc}:{square}
              - [{square}, {add}]
            """
        )
    )
    done = run(address, "dag", "create", "-f", str(dag_file))
    assert done.exit_code == 0, done.output
    described = json.loads(run(address, "dag", "describe", name, "--json").stdout)
    assert described["functions"] == [inc, square, add]
    assert described["edges"] == [[inc, square], [square, add]]
    assert run(address, "dag", "call", name, "--arg", f"{inc}=2").stdout.strip() == "9"
    assert run(address, "dag", "delete", name).exit_code == 0


def test_put_then_get(address: str, name: str) -> None:
    """put stores a JSON value that get prints back, as JSON or wrapped with --json."""
    value = {"a": [1, 2.5, "x"], "b": None}
    done = run(address, "put", name, json.dumps(value))
    assert done.exit_code == 0, done.output
    assert json.loads(run(address, "get", name).stdout) == value
    assert json.loads(run(address, "get", name, "--json").stdout) == {"key": name, "value": value}
    assert run(address, "put", name, '"text"').exit_code == 0
    assert run(address, "get", name).stdout.strip() == '"text"'


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["call", "{prefix}_missing"], ["FunctionNotFoundError", "{prefix}_missing"]),
        (["dag", "call", "{prefix}_nodag"], ["DagNotFoundError", "{prefix}_nodag"]),
        (["dag", "delete", "{prefix}_nodag"], ["DagNotFoundError"]),
        (["get", "{prefix}_nokey"], ["KeyNotFoundError", "{prefix}_nokey"]),
        (["put", "{prefix}_k", "{{bad"], ["not valid JSON"]),
        (["put", "{prefix}_k", "hello"], ["not valid JSON", '"hello"']),
        (["register", "{file}"], ["FILE.py:NAME"]),
        (["register", "{file}:nothing"], ["no attribute 'nothing'", "square"]),
        (["register", "/nonexistent/funcs.py:square"], ["no such file"]),
        (["register", "{file}:LIMIT"], ["LIMIT", "not a function or a class"]),
        (["register", "{file}:NoRun"], ["NoRun", "no run method"]),
        (["register", "{file}:Scaler", "--init-args", "{{"], ["--init-args", "not valid JSON"]),
        (["register", "{file}:Scaler", "--init-args", "3"], ["JSON list"]),
        (["register", "{file}:square", "--init-args", "[1]"], ["for classes"]),
        (["call", "{prefix}_boom", "7"], ["Rejected", "cannot take 7"]),
        (["dag", "call", "{prefix}_boomdag", "--arg", "{prefix}_boom=7"], ["Rejected"]),
        (["result", "{prefix}_never"], ["not a call id"]),
        (["result", "0123456789abcdef0123456789abcdef"], ["is unknown"]),
        (["call", "{prefix}_slow", "2", "--timeout", "0.5"], ["CallTimeoutError"]),
        (["dag", "create", "{prefix}_cyc", "--edge", "{prefix}_inc:{prefix}_square",
          "--edge", "{prefix}_square:{prefix}_inc"], ["InvalidDagError", "cycle"]),
        (["dag", "create", "{prefix}_bad", "--edge", "{prefix}_inc"], ["UPSTREAM:DOWNSTREAM"]),
        (["dag", "create", "{prefix}_u", "--function", "{prefix}_unknown"],
         ["FunctionNotFoundError"]),
        (["dag", "call", "{prefix}_boomdag", "--arg", "noequals"], ["FUNCTION=JSON"]),
        (["call", "{prefix}_describe", "{{bad"], ["not valid JSON", "'{{bad'", "Expecting"]),
        (["call", "{prefix}_describe", "[1, 2"], ["not valid JSON", "ARG 1"]),
        (["call", "{prefix}_describe", "1.2.3"], ["not valid JSON", '"1.2.3"']),
        (["dag", "call", "{prefix}_boomdag", "--arg", "{prefix}_boom={{x"], ["not valid JSON"]),
        (["register", "{file}:Scaler"], ["InvalidArgumentError", "Scaler", "factor"]),
        (["register", "{file}:Scaler", "--init-args", "[1, 2, 3]"],
         ["InvalidArgumentError", "too many"]),
        (["functions", "delete", "{prefix}_boom"], ["FunctionInUseError", "{prefix}_boomdag"]),
    ],
)  # fmt: skip
def test_errors_are_one_line(
    address: str,
    registered: dict[str, str],
    funcs_file: Path,
    prefix: str,
    args: list[str],
    needles: list[str],
) -> None:
    """Each failure is one stderr line, exit status 1, no traceback and nothing on stdout."""
    done = run(address, "dag", "create", f"{prefix}_boomdag", "--function", registered["boom"])
    assert done.exit_code == 0, done.output
    fill = {"prefix": prefix, "file": str(funcs_file)}
    result = run(address, *[a.format(**fill) for a in args])
    assert_one_error_line(result, *[n.format(**fill) for n in needles])
    assert result.stdout == ""


def test_bad_dag_files_are_one_line(address: str, tmp_path: Path) -> None:
    """A DAG file that is missing, not YAML, or not in the format is one error line."""
    cases = {
        "missing.yaml": (None, "cannot read"),
        "broken.yaml": ("name: [unclosed\n", "not valid YAML"),
        "list.yaml": ("- a\n- b\n", "expected a mapping"),
        "typo.yaml": ("name: x\nfunction: [a]\n", "unknown keys function"),
        "noname.yaml": ("functions: [a]\n", "needs a name"),
        "badedge.yaml": ("name: x\nedges: [[a, b, c]]\n", "UPSTREAM:DOWNSTREAM"),
    }
    for file_name, (text, needle) in cases.items():
        path = tmp_path / file_name
        if text is not None:
            path.write_text(text)
        assert_one_error_line(run(address, "dag", "create", "-f", str(path)), needle)


def test_verbose_prints_the_remote_traceback(address: str, registered: dict[str, str]) -> None:
    """--verbose prints a raising function's remote traceback before the error line."""
    plain = run(address, "call", registered["boom"], "1")
    assert "--verbose" in assert_one_error_line(plain, "Rejected")
    verbose = run(address, "call", registered["boom"], "1", "--verbose")
    assert verbose.exit_code == 1
    assert "Traceback (most recent call last)" in verbose.stderr
    assert "in boom" in verbose.stderr
    assert verbose.stderr.strip().splitlines()[-1].startswith("error: the function raised")


def test_no_cluster_at_address() -> None:
    """With nothing listening at --address, a command says so in one line and exits 1."""
    done = run(NO_CLUSTER, "--connect-timeout", "0.5", "functions", "list")
    assert_one_error_line(done, "no Cloudburst scheduler answers at 127.0.0.1:1", "cbctl up")


def test_address_precedence(address: str, registered: dict[str, str]) -> None:
    """A command's --address beats the global --address, which beats CLOUDBURST_ADDRESS."""
    square = registered["square"]
    env = {"CLOUDBURST_ADDRESS": NO_CLUSTER, "CLOUDBURST_CONNECT_TIMEOUT": "0.5"}
    assert run(None, "call", square, "3", env=env).exit_code == 1
    assert run(address, "call", square, "3", env=env).stdout.strip() == "9"
    done = run(NO_CLUSTER, "call", square, "3", "--address", address, env=env)
    assert done.stdout.strip() == "9"
    assert run(None, "call", square, "3", env={"CLOUDBURST_ADDRESS": address}).exit_code == 0


def test_installed_cbctl_round_trip(address: str, funcs_file: Path, name: str) -> None:
    """The installed cbctl works with CLOUDBURST_ADDRESS; its errors are one clean line."""
    done = cbctl("register", f"{funcs_file}:square", "--name", name, address=address)
    assert done.returncode == 0, done.stderr
    called = cbctl("call", name, "12", "--json", address=address)
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout)["result"] == 144
    assert called.stderr == ""
    assert_one_error_line(cbctl("call", f"{name}_missing", address=address), "not registered")
    assert_one_error_line(cbctl("put", name, "{oops", address=address), "not valid JSON")


def test_installed_cbctl_without_a_cluster() -> None:
    """The installed cbctl with no scheduler at the address: one line, exit 1."""
    env = dict(os.environ, CLOUDBURST_CONNECT_TIMEOUT="0.5")
    done = subprocess.run(
        [CBCTL, "--address", NO_CLUSTER, "dag", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert_one_error_line(done, "no Cloudburst scheduler answers at 127.0.0.1:1")


def test_help_lists_every_command() -> None:
    """--help names every command and group with a line of help, and shows examples."""
    top = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert top.exit_code == 0
    for command in ("register", "call", "result", "functions", "dag", "get", "put", "up"):
        assert command in top.stdout
    assert "Examples" in top.stdout
    dag = CliRunner().invoke(app, ["dag", "--help"], env={"COLUMNS": "200"})
    for command in ("create", "call", "list", "describe", "delete"):
        assert command in dag.stdout
    assert "cbctl dag create -f dag.yaml" in dag.stdout


def test_spinner_only_on_long_waits() -> None:
    """The spinner appears on a terminal only once a wait passes its delay."""
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=60)
    with waiting("quick", terminal, delay=0.3):
        time.sleep(0.05)
    assert screen.getvalue() == ""
    with waiting("slow wait", terminal, delay=0.1):
        time.sleep(0.5)
    assert "slow wait" in screen.getvalue()
    pipe = io.StringIO()
    with waiting("piped", Console(file=pipe), delay=0.0):
        time.sleep(0.2)
    assert pipe.getvalue() == ""


def test_result_of_a_pending_call_times_out(address: str, registered: dict[str, str]) -> None:
    """result --timeout on a call still running is a CallTimeoutError naming the call."""
    call_id = run(address, "call", registered["slow"], "2", "--async").stdout.strip()
    line = assert_one_error_line(
        run(address, "result", call_id, "--timeout", "0.3"), "CallTimeoutError"
    )
    assert call_id in line


def test_usage_errors_are_one_line() -> None:
    """A usage error (unknown command or option, missing argument, bad value) is one line
    naming the command's --help, with exit status 1, in-process and installed."""
    for args, needle in [
        (["call"], "Missing argument 'NAME'"),
        (["dag", "create", "--bogus"], "No such option: --bogus"),
        (["nope"], "No such command 'nope'"),
        (["up", "--executors", "x"], "--executors"),
        (["functions", "list", "--prefix"], "--prefix"),
    ]:
        line = assert_one_error_line(CliRunner().invoke(app, args), needle)
        assert "--help" in line
    installed = subprocess.run(
        [CBCTL, "dag", "call"], capture_output=True, text=True, timeout=60, check=False
    )
    assert "cbctl dag call --help" in assert_one_error_line(installed, "Missing argument")


def test_version() -> None:
    """cbctl --version prints its version and exits 0."""
    from importlib import metadata

    done = CliRunner().invoke(app, ["--version"])
    assert done.exit_code == 0
    assert done.stdout.strip() == f"cbctl {metadata.version('cloudburst-cli')}"
    installed = subprocess.run(
        [CBCTL, "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert installed.returncode == 0 and installed.stdout.startswith("cbctl ")


def test_short_flags_mean_one_thing() -> None:
    """A short flag means the same long option in every command (-f is the one exception:
    --file where a command reads a file, --follow in logs, as in kubectl and tail)."""
    import typer.main

    meanings: dict[str, set[str]] = {}

    def walk(command: object) -> None:
        for param in getattr(command, "params", []):
            longs = [o for o in param.opts if o.startswith("--")]
            for short in (o for o in param.opts if not o.startswith("--")):
                meanings.setdefault(short, set()).update(longs)
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(app))
    mixed = {s: sorted(m) for s, m in meanings.items() if len(m) > 1 and s != "-f"}
    assert not mixed, mixed
    assert meanings["-f"] == {"--file", "--follow"}
    assert meanings["-n"] == {"--lines"} and meanings["-e"] == {"--executors"}


def test_logs_help_names_services_that_exist(cluster: LocalCluster) -> None:
    """logs --help names the services a local cluster really has."""
    shown = CliRunner().invoke(app, ["logs", "--help"], env={"COLUMNS": "200"})
    info = cluster.status()
    assert info is not None
    names = {s.name for s in info.services}
    for named in ("management", "storage", "scheduler", "node0-cache", "node0-executor0"):
        assert named in names
        assert named in shown.stdout
    assert "executor-0" not in shown.stdout


def test_status_honours_address(address: str) -> None:
    """status --address asks the scheduler there (its executors), wherever the local
    cluster is; a scheduler that does not answer is one error line naming the address."""
    for args in (["status", "--address", address, "--json"], ["--address", address, "status"]):
        done = run(None, *args, *([] if "--json" in args else ["--json"]))
        assert done.exit_code == 0, done.output
        report = json.loads(done.stdout)
        assert report["address"] == address
        assert len(report["executors"]) == 2
    table = run(None, "status", "--address", address, env={"COLUMNS": "200"})
    for executor in report["executors"]:
        assert executor["executor_id"] in table.stdout
    assert_one_error_line(run(None, "status", "--address", NO_CLUSTER), NO_CLUSTER)


def test_json_errors_are_json(address: str, prefix: str) -> None:
    """With --json an error is also one JSON object on stdout: its type and message."""
    for args, kind in [
        (["call", f"{prefix}_missing", "--json"], "FunctionNotFoundError"),
        (["dag", "describe", f"{prefix}_nodag", "--json"], "DagNotFoundError"),
        (["get", f"{prefix}_nokey", "--json"], "KeyNotFoundError"),
        (["keys", "get", f"{prefix}_nokey", "--json"], "KeyNotFoundError"),
        (["result", "0123456789abcdef0123456789abcdef", "--json"], "KeyNotFoundError"),
        (["trace", "nope", "--json"], "CliError"),
    ]:
        done = run(address, *args)
        assert_one_error_line(done)
        reply = json.loads(done.stdout)
        assert reply["error"]["type"] == kind, reply
        assert reply["error"]["message"]
    done = run(NO_CLUSTER, "functions", "list", "--json")
    assert json.loads(done.stdout)["error"]["type"] == "UnavailableError"
    # Without --json (in the same process) an error is the stderr line alone.
    plain = run(address, "get", f"{prefix}_nokey")
    assert_one_error_line(plain, "KeyNotFoundError")
    assert plain.stdout == ""


def test_keys_list_get_put_delete(address: str, name: str) -> None:
    """keys put/get/list/delete manage the store; list hides the runtime's own records."""
    for key, value in ((f"{name}_a", "1"), (f"{name}_b", '{"x": [1]}')):
        assert run(address, "keys", "put", key, value).exit_code == 0
    assert json.loads(run(address, "keys", "get", f"{name}_b").stdout) == {"x": [1]}
    listed = run(address, "keys", "list", "--prefix", name, "--json")
    assert json.loads(listed.stdout) == [f"{name}_a", f"{name}_b"]
    assert run(address, "keys", "list", "-p", name).stdout.split() == [f"{name}_a", f"{name}_b"]
    everything = json.loads(run(address, "keys", "list", "--json").stdout)
    assert not any(k.startswith("__cb/") for k in everything)
    done = run(address, "keys", "delete", f"{name}_a")
    assert done.exit_code == 0, done.output
    assert json.loads(run(address, "keys", "list", "-p", name, "--json").stdout) == [f"{name}_b"]
    assert_one_error_line(run(address, "keys", "get", f"{name}_a"), "KeyNotFoundError")
    assert_one_error_line(run(address, "keys", "delete", f"{name}_a"), "KeyNotFoundError")


def test_deleting_a_function_a_dag_uses(address: str, funcs_file: Path, name: str) -> None:
    """functions delete refuses a function DAGs use, naming them; --force deletes it."""
    fn = f"{name}_used"
    assert run(address, "register", f"{funcs_file}:inc", "--name", fn).exit_code == 0
    for dag in (f"{name}_d1", f"{name}_d2"):
        assert run(address, "dag", "create", dag, "--function", fn).exit_code == 0
    line = assert_one_error_line(
        run(address, "functions", "delete", fn), "FunctionInUseError", "--force"
    )
    assert f"{name}_d1" in line and f"{name}_d2" in line
    assert run(address, "call", fn, "1").stdout.strip() == "2"
    done = run(address, "functions", "delete", fn, "--force")
    assert done.exit_code == 0, done.output
    assert fn not in json.loads(run(address, "functions", "list", "--json").stdout)


def test_no_cluster_fails_at_once() -> None:
    """Nothing listening at the address: the installed cbctl says so at once, naming the
    address, however long --connect-timeout would let it wait."""
    done = subprocess.run(
        [CBCTL, "--address", NO_CLUSTER, "--connect-timeout", "600", "call", "f", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert_one_error_line(done, "no Cloudburst scheduler answers at 127.0.0.1:1", "cbctl up")


def test_readme_cbctl_example_runs(cluster: LocalCluster, tmp_path: Path) -> None:
    """The README's cbctl example, run line by line (but up, down and logs -f) against a
    cluster, prints what the README shows."""
    import shlex

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## From a shell: cbctl", 1)[1].split("\n## ", 1)[0]
    funcs = section.split("```python\n", 1)[1].split("```", 1)[0]
    session = section.split("```console\n", 1)[1].split("```", 1)[0]
    (tmp_path / "funcs.py").write_text(funcs)
    env = dict(
        os.environ,
        CLOUDBURST_ADDRESS=cluster.scheduler_address,
        CLOUDBURST_HOME=str(cluster.home),
        COLUMNS="200",
    )
    steps: list[tuple[list[str], list[str]]] = []
    for line in session.splitlines():
        if line.startswith("$ "):
            steps.append((shlex.split(line[2:], comments=True), []))
        elif line.strip():
            steps[-1][1].append(line)
    assert any(argv[1:3] == ["dag", "create"] for argv, _ in steps)
    for argv, expected in steps:
        if argv[1] in ("up", "down") or (argv[1] == "logs" and "-f" in argv):
            continue
        done = subprocess.run(
            [CBCTL, *argv[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, (argv, done.stderr)
        if expected:
            assert done.stdout.strip().splitlines() == expected, argv


def test_ctrl_c_cancels_the_call_and_names_it(address: str, registered: dict[str, str]) -> None:
    """Ctrl-C while cbctl waits for a call cancels it and names it (with --verbose the id is
    also printed before the wait starts)."""
    import signal

    env = dict(os.environ, CLOUDBURST_ADDRESS=address, COLUMNS="200")
    process = subprocess.Popen(
        [CBCTL, "call", registered["slow"], "3", "--verbose"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()  # printed before the wait starts
        call_id = first.split("call ", 1)[1].strip()
        assert len(call_id) == 32, first
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130
    assert "Traceback" not in rest
    assert f"cancelled call {call_id}" in rest
