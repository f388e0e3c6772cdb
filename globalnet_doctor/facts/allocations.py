"""Globalnet's allocations: every global IP a holder (ClusterGlobalEgressIP, GlobalEgressIP,
GlobalIngressIP, Gateway) has been given, indexed once per view (GD311).

Shapes follow submariner ``pkg/globalnet/controllers``: ``status.allocatedIPs`` on the egress
kinds, ``status.allocatedIP`` on a GlobalIngressIP, and the ``submariner.io/globalIp``
annotation Globalnet sets on the local Gateway (on the Node before 0.18).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from globalnet_doctor import kinds
from globalnet_doctor.config import Settings
from globalnet_doctor.facts import objects
from globalnet_doctor.facts.gateways import gateway_reads, gateways
from globalnet_doctor.facts.globalnet import allocated_ip
from globalnet_doctor.kinds import Kind, Read
from globalnet_doctor.view import ClusterView, KubeObject

GLOBAL_IP_ANNOTATION = "submariner.io/globalIp"
RESERVE_FAILED = "ReserveAllocatedIPsFailed"
"""``Allocated=False`` reason when re-reserving a holder's IPs at start-up failed
(``base_controllers.go reserveAllocatedIPs``); the holder is then given new IPs."""
ALREADY_ALLOCATED = "is already allocated"
NOT_IN_CIDR = "is not contained in"
INTERNAL_SERVICE_MISSING = "does not exist"
INTERNAL_SERVICE_MISMATCH = "does not match with Internal Service ExternalIP"

EGRESS_KINDS: tuple[Kind, ...] = (kinds.CLUSTER_GLOBAL_EGRESS_IPS, kinds.GLOBAL_EGRESS_IPS)


def allocation_reads(settings: Settings) -> tuple[Read, ...]:
    """One LIST per holder kind, all namespaces (the Gateways in the Submariner namespace)."""
    return (
        Read(kinds.CLUSTER_GLOBAL_EGRESS_IPS),
        Read(kinds.GLOBAL_EGRESS_IPS),
        Read(kinds.GLOBAL_INGRESS_IPS),
        *gateway_reads(settings),
    )


@dataclass(frozen=True, slots=True)
class Holder:
    """One object holding global IPs."""

    kind: Kind
    obj: KubeObject

    @property
    def key(self) -> str:
        where = objects.namespace(self.obj)
        return f"{self.kind.kind} {where + '/' if where else ''}{objects.name(self.obj)}"


def egress_ips(obj: KubeObject) -> list[str]:
    value = objects.status(obj).get("allocatedIPs") or []
    return [str(ip) for ip in value] if isinstance(value, list) else []


def holder_ips(holder: Holder) -> list[str]:
    if holder.kind in EGRESS_KINDS:
        return egress_ips(holder.obj)
    if holder.kind == kinds.GLOBAL_INGRESS_IPS:
        ip = allocated_ip(holder.obj)
        return [ip] if ip else []
    ip = str(objects.annotations_of(holder.obj).get(GLOBAL_IP_ANNOTATION) or "")
    return [ip] if ip else []


def holders(view: ClusterView, settings: Settings) -> Sequence[Holder]:
    """Every holder of the cluster, egress kinds first, then ingress, then Gateways."""

    def collect() -> tuple[Holder, ...]:
        found: list[Holder] = []
        for kind in (*EGRESS_KINDS, kinds.GLOBAL_INGRESS_IPS):
            found.extend(Holder(kind, obj) for obj in view.list(kind))
        found.extend(Holder(kinds.GATEWAYS, gw) for gw in gateways(view, settings))
        return tuple(found)

    return view.derived(("allocation-holders", settings.submariner_namespace), collect)


def holders_by_ip(view: ClusterView, settings: Settings) -> Mapping[str, list[Holder]]:
    """Global IP -> the distinct holders given it, in the order read (one pass)."""

    def index() -> dict[str, list[Holder]]:
        found: dict[str, list[Holder]] = {}
        for holder in holders(view, settings):
            for ip in dict.fromkeys(holder_ips(holder)):
                found.setdefault(ip, []).append(holder)
        return found

    return view.derived(("holders-by-ip", settings.submariner_namespace), index)


def reserve_failure(obj: KubeObject) -> Mapping[str, object] | None:
    """The ``Allocated=False`` ``ReserveAllocatedIPsFailed`` condition when it is the holder's
    latest ``Allocated`` condition. Globalnet appends conditions (its tests await the failure
    followed by ``Allocated=True``), so a failure followed by success is history: the holder
    was re-allocated (what Lighthouse then publishes is GD303's)."""
    latest: Mapping[str, object] | None = None
    for entry in objects.status(obj).get("conditions") or []:
        if isinstance(entry, Mapping) and entry.get("type") == "Allocated":
            latest = entry
    if (
        latest is not None
        and latest.get("status") == "False"
        and latest.get("reason") == RESERVE_FAILED
    ):
        return latest
    return None


def reserve_failure_cause(message: str) -> str:
    """What a ``ReserveAllocatedIPsFailed`` message means (the pool's and the GlobalIngressIP
    controller's error texts)."""
    if ALREADY_ALLOCATED in message:
        return "double allocation: another holder already had this IP when Globalnet restarted"
    if NOT_IN_CIDR in message:
        return "the global CIDR changed under existing allocations"
    if INTERNAL_SERVICE_MISMATCH in message or (
        "internal service" in message.lower() and INTERNAL_SERVICE_MISSING in message
    ):
        return (
            "Globalnet's internal Service was deleted or edited while Globalnet was down "
            "(submariner#3336): the IP is re-allocated and Lighthouse may keep the old one"
        )
    return "the allocated IPs could not be re-reserved"
