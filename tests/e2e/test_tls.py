"""TLS: `cbctl up --tls` encrypts every connection with a private CA; clients that do not
present the right CA, or no certificate, are refused with a clear error."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloudburst import CloudburstConnection, UnavailableError
from cloudburst_cli._tls import LocalTls, ensure_local_tls
from cloudburst_protocol import config
from conftest import free_port

pytestmark = pytest.mark.e2e

CBCTL = str(Path(sys.executable).with_name("cbctl"))


class TlsCluster:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.address = f"127.0.0.1:{env[config.SCHEDULER_PORT_ENV]}"

    def cbctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CBCTL, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    @property
    def files(self) -> LocalTls:
        return ensure_local_tls(self.home)  # made by `up --tls`: read back, not remade


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCluster]:
    home = tmp_path_factory.mktemp("tls")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDBURST_TLS_", "OTEL_"))}
    env.update(
        {
            config.HOME_ENV: str(home),
            config.SCHEDULER_PORT_ENV: str(free_port()),
            config.MANAGEMENT_PORT_ENV: str(free_port()),
            config.CACHE_PORT_ENV: str(free_port()),
        }
    )
    cluster = TlsCluster(home, env)
    started = cluster.cbctl("up", "--tls", "--executors", "1", "--timeout", "90")
    assert started.returncode == 0, started.stderr + started.stdout
    assert "TLS on" in started.stdout
    yield cluster
    cluster.cbctl("down")


def connect(cluster: TlsCluster, tls: dict[str, str], **kwargs: float) -> CloudburstConnection:
    saved = {
        k: os.environ.pop(k, None)
        for k in (config.TLS_CA_ENV, config.TLS_CERT_ENV, config.TLS_KEY_ENV)
    }
    os.environ.update(tls)
    try:
        return CloudburstConnection(cluster.address, **kwargs)
    finally:
        for key in saved:
            os.environ.pop(key, None)
        os.environ.update({k: v for k, v in saved.items() if v is not None})


def test_cbctl_on_a_tls_cluster_finds_its_certificates(tls_cluster: TlsCluster) -> None:
    """After `up --tls`, cbctl's own commands work with no TLS settings of their own."""
    listed = tls_cluster.cbctl("functions", "list")
    assert listed.returncode == 0, listed.stderr
    status = tls_cluster.cbctl("status")
    assert status.returncode == 0, status.stderr
    assert "scheduler" in status.stdout


def test_a_client_with_the_cluster_ca_and_a_certificate_runs_calls(tls_cluster: TlsCluster) -> None:
    """The SDK with the printed settings (CA and client certificate) registers and calls."""
    with connect(tls_cluster, tls_cluster.files.client_env()) as cloud:
        square = cloud.register(lambda _, x: x * x, "tls-square")
        assert square(9).get() == 81


def test_a_plaintext_client_is_refused_with_a_tls_hint(tls_cluster: TlsCluster) -> None:
    """Without TLS settings the connection fails, and the error says TLS may be why."""
    with pytest.raises(UnavailableError, match=config.TLS_CA_ENV):
        connect(tls_cluster, {}, connect_timeout=3)


def test_a_client_with_another_ca_is_refused(tls_cluster: TlsCluster, tmp_path: Path) -> None:
    """A client trusting another CA does not accept the cluster's certificate."""
    stranger = ensure_local_tls(tmp_path)
    with pytest.raises(UnavailableError, match="TLS"):
        connect(tls_cluster, stranger.client_env(), connect_timeout=3)


def test_a_client_without_a_certificate_is_refused(tls_cluster: TlsCluster, tmp_path: Path) -> None:
    """Mutual TLS: the right CA but no client certificate is refused at the handshake."""
    ca = tmp_path / "ca.pem"
    shutil.copy(tls_cluster.files.ca, ca)
    with (
        pytest.raises(UnavailableError),
        connect(tls_cluster, {config.TLS_CA_ENV: str(ca)}, connect_timeout=3) as cloud,
    ):
        cloud.list()
