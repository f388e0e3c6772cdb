"""Kubeconfig files: one context per cluster, all sharing one user."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path

import yaml


def write_kubeconfig(
    path: Path,
    servers: Mapping[str, str],
    ca_pem: bytes,
    user: str,
    token: str,
) -> Path:
    """Writes a kubeconfig whose contexts follow the order of `servers` (first is current).

    The CA is embedded as certificate-authority-data so the file is self-contained and
    clients verify the serving certificate (no insecure-skip-tls-verify anywhere).
    """
    ca_data = base64.b64encode(ca_pem).decode()
    names = list(servers)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "current-context": names[0],
        "clusters": [
            {
                "name": name,
                "cluster": {"server": servers[name], "certificate-authority-data": ca_data},
            }
            for name in names
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user}} for name in names],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path
