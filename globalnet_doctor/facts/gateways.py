"""Submariner's gateways: the label that makes a node one, and the Gateway objects with their
connections to the other clusters."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.kinds import Read
from globalnet_doctor.view import ClusterView, KubeObject

GATEWAY_LABEL = "submariner.io/gateway"
"""A node labelled ``submariner.io/gateway=true`` runs the Submariner gateway."""
UPDATE_TIMESTAMP = "update-timestamp"
STALE_AFTER_SECONDS = 15
PING_FAILURE = re.compile(r'Failed to successfully ping the remote endpoint IP "([^"]*)"')


def is_gateway(node: KubeObject) -> bool:
    return objects.labels(node).get(GATEWAY_LABEL) == "true"


def gateway_nodes(view: ClusterView) -> list[KubeObject]:
    return [node for node in view.list(kinds.NODES) if is_gateway(node)]


def gateway_reads(settings: Settings) -> tuple[Read, ...]:
    return (Read(kinds.GATEWAYS, settings.submariner_namespace),)


@dataclass(frozen=True, slots=True)
class Connection:
    gateway: KubeObject
    status: str
    message: str
    remote_cluster_id: str
    remote: KubeObject

    @property
    def ping_failure_ip(self) -> str | None:
        """The remote health-check IP when this is the health checker's ping failure."""
        match = PING_FAILURE.search(self.message)
        return match.group(1) if self.status == "error" and match else None


def gateways(view: ClusterView, settings: Settings) -> Sequence[KubeObject]:
    return view.list(kinds.GATEWAYS, settings.submariner_namespace)


def is_active(gateway: KubeObject) -> bool:
    return objects.status(gateway).get("haStatus") == "active"


def connections(gateway: KubeObject) -> list[Connection]:
    found = []
    for connection in objects.status(gateway).get("connections") or []:
        remote = connection.get("endpoint") or {}
        found.append(
            Connection(
                gateway=gateway,
                status=str(connection.get("status") or "none"),
                message=str(connection.get("statusMessage") or ""),
                remote_cluster_id=str(remote.get("cluster_id") or ""),
                remote=remote,
            )
        )
    return found


def age_seconds(gateway: KubeObject, observed_at: datetime) -> float | None:
    """Seconds between the gateway's last ``update-timestamp`` and when the view was read."""
    raw = objects.annotations_of(gateway).get(UPDATE_TIMESTAMP)
    try:
        stamp = float(str(raw))
    except (TypeError, ValueError):
        return None
    return observed_at.timestamp() - stamp
