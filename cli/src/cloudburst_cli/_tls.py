"""``cbctl up --tls``: a private certificate authority and certificates for a local cluster.

Under ``$CLOUDBURST_HOME/tls``: ``ca.pem`` (the authority, which signs the others),
``cluster.pem``/``cluster-key.pem`` (what every service presents, for ``127.0.0.1``,
``localhost`` and this host's name) and ``client.pem``/``client-key.pem`` (what clients
present: the services require a certificate from this CA, i.e. mutual TLS). Keys are mode
0600 in a 0700 directory; existing files are kept, so clients configured once keep working.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 825


@dataclass(frozen=True, slots=True)
class LocalTls:
    ca: Path
    cluster_cert: Path
    cluster_key: Path
    client_cert: Path
    client_key: Path

    def paths(self) -> tuple[Path, ...]:
        return (self.ca, self.cluster_cert, self.cluster_key, self.client_cert, self.client_key)

    def service_env(self) -> dict[str, str]:
        """What the services get: listen with TLS, require client certificates."""
        return {
            "CLOUDBURST_TLS_CERT": str(self.cluster_cert),
            "CLOUDBURST_TLS_KEY": str(self.cluster_key),
            "CLOUDBURST_TLS_CA": str(self.ca),
        }

    def client_env(self) -> dict[str, str]:
        """What a client sets to reach the cluster."""
        return {
            "CLOUDBURST_TLS_CERT": str(self.client_cert),
            "CLOUDBURST_TLS_KEY": str(self.client_key),
            "CLOUDBURST_TLS_CA": str(self.ca),
        }


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _sign(
    subject: str,
    ca_key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    usage: list[x509.ObjectIdentifier],
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.DNSName(socket.gethostname()),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def adopt_local_tls(home: Path) -> None:
    """When the local cluster at ``home`` runs with TLS (``cbctl up --tls``) and this process
    has no TLS settings of its own, use the cluster's client certificate."""
    if os.environ.get("CLOUDBURST_TLS_CA"):
        return
    try:
        state = json.loads((home / "cluster.json").read_text())
    except (OSError, ValueError):
        return
    if not isinstance(state, dict) or not state.get("tls"):
        return
    files = _paths(home)
    if all(p.exists() for p in files.paths()):
        os.environ.update(files.client_env())


def _paths(home: Path) -> LocalTls:
    directory = home / "tls"
    return LocalTls(
        ca=directory / "ca.pem",
        cluster_cert=directory / "cluster.pem",
        cluster_key=directory / "cluster-key.pem",
        client_cert=directory / "client.pem",
        client_key=directory / "client-key.pem",
    )


def ensure_local_tls(home: Path) -> LocalTls:
    """The local cluster's CA and certificates under ``home/tls``, made if missing."""
    directory = home / "tls"
    files = _paths(home)
    if all(p.exists() for p in files.paths()):
        return files
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    issuer = _name("Cloudburst local cluster CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(issuer)
        .issuer_name(issuer)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    both = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    cluster, cluster_key = _sign("cloudburst-cluster", ca_key, issuer, both)
    client, client_key = _sign("cloudburst-client", ca_key, issuer, both)
    _write(files.ca, ca.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(files.cluster_cert, cluster.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(files.cluster_key, _key_pem(cluster_key), 0o600)
    _write(files.client_cert, client.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(files.client_key, _key_pem(client_key), 0o600)
    return files


__all__ = ["LocalTls", "adopt_local_tls", "ensure_local_tls"]
