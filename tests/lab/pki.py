"""Certificates, keys and the static token file, made with the openssl CLI.

One self-signed CA signs one serving certificate (IP 127.0.0.1, DNS localhost) that every
apiserver presents, so clients verify TLS against a single CA. EC P-256 keys keep generation
instant; Go and Python's ssl both accept them.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import LabStartError
from .procs import require_tool

_CA_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = gdoctor-lab-ca
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""

# Explicit extensions: Python's ssl may run with X509 strict checks, which want key usages,
# key identifiers and a SAN rather than a CN.
_SERVER_EXTENSIONS = """\
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    sa_key: Path
    sa_pub: Path


@dataclass(frozen=True)
class User:
    name: str
    token: str
    groups: tuple[str, ...] = ()


def _openssl(openssl: str, *args: str) -> None:
    result = subprocess.run([openssl, *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LabStartError(f"openssl {' '.join(args)} failed:\n{result.stderr}")


def _ec_key(openssl: str, path: Path) -> None:
    _openssl(
        openssl,
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        str(path),
    )


def make_pki(directory: Path) -> Pki:
    """Writes CA, serving cert and service-account key pair into directory."""
    openssl = require_tool("openssl", "openssl")
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(
        ca_cert=directory / "ca.crt",
        server_cert=directory / "apiserver.crt",
        server_key=directory / "apiserver.key",
        sa_key=directory / "sa.key",
        sa_pub=directory / "sa.pub",
    )
    ca_key = directory / "ca.key"
    ca_config = directory / "ca.cnf"
    ca_config.write_text(_CA_CONFIG)
    _ec_key(openssl, ca_key)
    _openssl(
        openssl,
        "req",
        "-x509",
        "-new",
        "-config",
        str(ca_config),
        "-extensions",
        "v3_ca",
        "-key",
        str(ca_key),
        "-sha256",
        "-days",
        "3650",
        "-out",
        str(pki.ca_cert),
    )

    csr = directory / "apiserver.csr"
    extensions = directory / "apiserver.ext"
    extensions.write_text(_SERVER_EXTENSIONS)
    _ec_key(openssl, pki.server_key)
    _openssl(
        openssl,
        "req",
        "-new",
        "-key",
        str(pki.server_key),
        "-subj",
        "/CN=gdoctor-lab",
        "-out",
        str(csr),
    )
    _openssl(
        openssl,
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(pki.ca_cert),
        "-CAkey",
        str(ca_key),
        "-set_serial",
        f"0x{secrets.token_hex(8)}",
        "-sha256",
        "-days",
        "3650",
        "-extfile",
        str(extensions),
        "-extensions",
        "v3_server",
        "-out",
        str(pki.server_cert),
    )

    _ec_key(openssl, pki.sa_key)
    _openssl(openssl, "pkey", "-in", str(pki.sa_key), "-pubout", "-out", str(pki.sa_pub))
    return pki


def make_users() -> dict[str, User]:
    """The lab's three identities with fresh random tokens."""
    return {
        "admin": User("admin", secrets.token_hex(16), ("system:masters",)),
        "reader": User("reader", secrets.token_hex(16)),
        "nobody": User("nobody", secrets.token_hex(16)),
    }


def write_token_file(path: Path, users: dict[str, User]) -> None:
    """The --token-auth-file CSV: token,user,uid,"group1,group2"."""
    lines = []
    for user in users.values():
        line = f"{user.token},{user.name},{user.name}"
        if user.groups:
            line += ',"' + ",".join(user.groups) + '"'
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
