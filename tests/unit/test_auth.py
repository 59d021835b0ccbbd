"""Credentials and roles: the policy every server enforces, and where tokens come from."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cloudburst_protocol import auth, config
from cloudburst_protocol.auth import AuthPolicy, Denied, Role
from cloudburst_protocol.errors import InvalidArgumentError, InvalidDagError
from cloudburst_protocol.keys import MAX_DAG_FUNCTIONS, check_name, check_user_key
from cloudburst_scheduler.dags import validate_dag

POLICY = AuthPolicy.of("secret", admin_tokens=["admin"], client_tokens=["client"])


def meta(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def test_health_checks_are_open_and_unknown_methods_need_the_cluster() -> None:
    """Health is open to all; a method the table does not list is closed by default."""
    assert auth.required_role("/grpc.health.v1.Health/Check") is None
    assert auth.required_role("/cloudburst.v1.Cache/Put") is Role.CLUSTER
    assert auth.required_role("/cloudburst.v1.Scheduler/Attach") is Role.CLUSTER
    assert auth.required_role("/cloudburst.v1.Scheduler/NewThing") is Role.CLUSTER
    assert auth.required_role("/cloudburst.v1.Scheduler/Call") is Role.CLIENT
    assert auth.required_role("/cloudburst.v1.Management/Shutdown") is Role.ADMIN


@pytest.mark.parametrize(
    ("method", "token", "expected"),
    [
        ("/cloudburst.v1.Scheduler/Call", None, Denied.UNAUTHENTICATED),
        ("/cloudburst.v1.Scheduler/Call", "wrong", Denied.UNAUTHENTICATED),
        ("/cloudburst.v1.Scheduler/Call", "client", None),
        ("/cloudburst.v1.Scheduler/DeleteFunction", "client", Denied.PERMISSION_DENIED),
        ("/cloudburst.v1.Scheduler/DeleteFunction", "admin", None),
        ("/cloudburst.v1.Management/Shutdown", "client", Denied.PERMISSION_DENIED),
        ("/cloudburst.v1.Cache/Put", "admin", Denied.PERMISSION_DENIED),
        ("/cloudburst.v1.Cache/Put", "secret", None),
        ("/cloudburst.v1.Scheduler/Attach", "client", Denied.PERMISSION_DENIED),
        ("/grpc.health.v1.Health/Check", None, None),
    ],
)
def test_policy_decides_by_role(method: str, token: str | None, expected: Denied | None) -> None:
    """Each method needs its role; a higher role may do what a lower one may."""
    assert POLICY.check(method, meta(token) if token else []) is expected


def test_only_bearer_tokens_count() -> None:
    """A token must come as 'Bearer <token>' in the authorization metadata."""
    assert auth.bearer_token([("authorization", "Bearer abc")]) == "abc"
    assert auth.bearer_token([("authorization", b"Bearer abc")]) == "abc"
    assert auth.bearer_token([("authorization", "abc")]) is None
    assert auth.bearer_token([("authorization", "Bearer ")]) is None
    assert auth.bearer_token([("other", "Bearer abc")]) is None
    assert auth.bearer_token(None) is None


def test_checking_off_trusts_everyone() -> None:
    """CLOUDBURST_AUTH=off: no method is refused."""
    off = AuthPolicy(False, {})
    assert off.check("/cloudburst.v1.Cache/Put", []) is None


def test_service_policy_needs_a_cluster_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service started without the cluster secret refuses to start, naming the setting."""
    monkeypatch.delenv(config.CLUSTER_SECRET_ENV, raising=False)
    monkeypatch.delenv(config.AUTH_ENV, raising=False)
    with pytest.raises(InvalidArgumentError, match=config.CLUSTER_SECRET_ENV):
        AuthPolicy.from_env()
    monkeypatch.setenv(config.AUTH_ENV, "sometimes")
    with pytest.raises(InvalidArgumentError, match=config.AUTH_ENV):
        AuthPolicy.from_env()
    monkeypatch.setenv(config.AUTH_ENV, "off")
    assert not AuthPolicy.from_env().enabled


def test_service_policy_reads_every_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secret, the admin token and a list of client tokens, each with its role."""
    monkeypatch.delenv(config.AUTH_ENV, raising=False)
    monkeypatch.setenv(config.CLUSTER_SECRET_ENV, "s")
    monkeypatch.setenv(config.ADMIN_TOKEN_ENV, "a")
    monkeypatch.setenv(config.CLIENT_TOKENS_ENV, "c1, c2,")
    policy = AuthPolicy.from_env()
    assert [policy.role_of(t) for t in ("s", "a", "c1", "c2", "x")] == [
        Role.CLUSTER,
        Role.ADMIN,
        Role.CLIENT,
        Role.CLIENT,
        None,
    ]


def test_client_credentials_prefer_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """CLOUDBURST_TOKEN first, then $CLOUDBURST_HOME/token; the source names where."""
    monkeypatch.setenv(config.TOKEN_ENV, "from-env")
    assert auth.client_credentials(tmp_path).token == "from-env"
    monkeypatch.delenv(config.TOKEN_ENV)
    missing = auth.client_credentials(tmp_path)
    assert missing.token is None
    assert config.TOKEN_ENV in missing.source and str(tmp_path / "token") in missing.source
    (tmp_path / "token").write_text("from-file\n")
    found = auth.client_credentials(tmp_path)
    assert (found.token, found.source) == ("from-file", str(tmp_path / "token"))
    assert found.metadata() == (("authorization", "Bearer from-file"),)


def test_local_secrets_are_made_private_and_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A fresh home gets a private token and secret; a second start keeps them; a token from
    the environment becomes the cluster's and is written down for later clients."""
    monkeypatch.delenv(config.TOKEN_ENV, raising=False)
    monkeypatch.delenv(config.CLUSTER_SECRET_ENV, raising=False)
    home = tmp_path / "home"
    first = auth.ensure_local_secrets(home)
    assert first.admin_token != first.cluster_secret
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("token", "cluster-secret"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600
    assert auth.ensure_local_secrets(home) == first
    monkeypatch.setenv(config.TOKEN_ENV, "chosen")
    assert auth.ensure_local_secrets(home).admin_token == "chosen"
    assert (home / "token").read_text().strip() == "chosen"
    monkeypatch.setenv(config.CLUSTER_SECRET_ENV, "chosen")
    with pytest.raises(InvalidArgumentError, match="must differ"):
        auth.ensure_local_secrets(home)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "non-empty"),
        ("x" * 257, "at most 256"),
        ("a/b", "'/'"),
        ("a\x00b", "control"),
        ("a\nb", "control"),
        (" a", "spaces"),
    ],
)
def test_names_are_bounded_and_printable(name: str, problem: str) -> None:
    """Function and DAG names: 1-256 characters, no '/', no control characters."""
    with pytest.raises(InvalidArgumentError, match=problem):
        check_name("function", name)
    assert check_name("function", "x" * 256) == "x" * 256


def test_keys_are_bounded() -> None:
    """A key over the bound is refused with its size and the bound."""
    check_user_key("k" * 4096)
    with pytest.raises(InvalidArgumentError, match="at most 4096 bytes"):
        check_user_key("k" * 4097)


def test_dags_are_bounded_and_named_like_functions() -> None:
    """A DAG over the size bound or with a bad name is an InvalidDagError naming it."""
    functions = [f"f{i}" for i in range(MAX_DAG_FUNCTIONS + 1)]
    with pytest.raises(InvalidDagError, match=f"at most {MAX_DAG_FUNCTIONS}"):
        validate_dag("big", functions, [])
    with pytest.raises(InvalidDagError, match="'/'"):
        validate_dag("a/b", ["f"], [])
